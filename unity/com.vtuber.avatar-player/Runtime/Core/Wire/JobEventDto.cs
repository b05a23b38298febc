// Field names are the wire's; see AnimationTrackDto.cs. The server leaves out every field that is null
// ([OptionalField] tells DataContractJsonSerializer so; JsonUtility ignores the attribute and leaves
// a missing number 0 and a missing object empty rather than null, so read fields by event type).
// ReSharper disable InconsistentNaming
using System;
using System.Runtime.Serialization;

namespace VTuber.Animation.Wire
{
    /// <summary>The <c>event:</c> names of <c>GET /v1/jobs/{id}/events</c> (schemas/events.py EventType).</summary>
    public static class JobEventType
    {
        public const string JobQueued = "job.queued";
        public const string StageStarted = "stage.started";
        public const string StageFinished = "stage.finished";
        public const string TranscriptReady = "transcript.ready";
        public const string SegmentQueued = "segment.queued";
        public const string SegmentAudioReady = "segment.audio_ready";
        public const string SegmentAnimationReady = "segment.animation_ready";
        public const string JobCompleted = "job.completed";
        public const string JobFailed = "job.failed";
        /// <summary>The viewer cut the turn off (barge-in): nothing more comes; stop playing.</summary>
        public const string JobInterrupted = "job.interrupted";

        /// <summary>A manual command for the avatar (a job of kind "avatar"): apply it at once. Session channel only.</summary>
        public const string AvatarCommand = "avatar.command";

        /// <summary>The server closes a job's stream after these.</summary>
        public static bool IsFinal(string type)
        {
            return type == JobCompleted || type == JobFailed || type == JobInterrupted;
        }
    }

    [Serializable]
    public sealed class TranscriptDto
    {
        public string text;
        [OptionalField] public string language;
    }

    /// <summary>The reply so far (schemas/jobs.py Reply); <c>done</c> once the LLM has finished.</summary>
    [Serializable]
    public sealed class ReplyDto
    {
        public string text;
        public string emotion;
        public string[] motions;
        public bool done;
    }

    /// <summary>One progress event of a job: the <c>data:</c> JSON of an SSE message (schemas/events.py JobEvent).</summary>
    [Serializable]
    public sealed class JobEventDto
    {
        public string type;
        public string job_id;
        public string session_id;

        /// <summary>ISO 8601, UTC.</summary>
        public string at;

        /// <summary>stt | llm | tts | animation, on stage.* events.</summary>
        [OptionalField] public string stage;

        /// <summary>stage.finished: the stage's own work.</summary>
        [OptionalField] public double seconds;

        /// <summary>The LLM attempt (from 1) a segment or an llm stage event belongs to; 0 when absent.</summary>
        [OptionalField] public int attempt;

        [OptionalField] public TranscriptDto transcript;

        /// <summary>segment.queued: text and emotion; .audio_ready: plus audio; .animation_ready: whole and ready.</summary>
        [OptionalField] public SegmentDto segment;

        [OptionalField] public ReplyDto reply;

        /// <summary>stage.finished llm and job.completed; 0 when absent (a finished reply has at least one segment).</summary>
        [OptionalField] public int segments_total;

        /// <summary>job.failed.</summary>
        [OptionalField] public JobErrorDto error;

        /// <summary>avatar.command: what to do (schemas/avatar.py).</summary>
        [OptionalField] public AvatarCommandDto command;
    }
}
