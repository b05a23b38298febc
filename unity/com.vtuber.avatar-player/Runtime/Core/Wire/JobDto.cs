// Field names are the wire's; see AnimationTrackDto.cs. Only what a player needs is declared: the
// parsers skip the rest (transcript, reply, timings, dates). Numbers the API may send as null
// (segments_total, sample_rate, duration_s) are left out on purpose: JsonUtility has no nullable numbers,
// and a player needs none of them (the AudioClip knows its length; "completed" means every segment is ready).
// [OptionalField] marks what event JSON leaves out when null (JobEventDto.cs); the polled job sends null.
// ReSharper disable InconsistentNaming
using System;
using System.Runtime.Serialization;

namespace VTuber.Animation.Wire
{
    /// <summary>One reply segment as <c>GET /v1/jobs/{id}</c> reports it (schemas/jobs.py SegmentOut).</summary>
    [Serializable]
    public sealed class SegmentDto
    {
        public int index;
        public string text;
        public string emotion;
        public string[] motions;
        [OptionalField] public string audio_id;

        /// <summary>WAV; relative to the API's base URL unless the server has a public base URL set.</summary>
        [OptionalField] public string audio_url;

        [OptionalField] public string audio_format;
        [OptionalField] public AnimationTrackDto animation;

        /// <summary>Audio and animation are both stored.</summary>
        public bool ready;
    }

    [Serializable]
    public sealed class JobErrorDto
    {
        public string code;
        public string message;
        [OptionalField] public string stage;
    }

    /// <summary>A live-chat turn (schemas/jobs.py JobOut): queued → running → completed | failed.</summary>
    [Serializable]
    public sealed class JobDto
    {
        public const string Queued = "queued";
        public const string Running = "running";
        public const string Completed = "completed";
        public const string Failed = "failed";
        public const string Interrupted = "interrupted";

        public string id;
        public string session_id;
        public string status;
        public string stage;
        public string persona;
        public SegmentDto[] segments;
        public JobErrorDto error;

        /// <summary>Changes whenever the job does: send it back as <c>?since=</c> to long-poll. Absent from older servers.</summary>
        [OptionalField] public string version;

        public bool IsFinished
        {
            get { return status == Completed || status == Failed || status == Interrupted; }
        }

        /// <summary>
        /// Whether the job failed, and why. Read the status, never <c>error != null</c>: JsonUtility fills a nested
        /// object the JSON leaves out or sends as null, so every parsed job has an <see cref="error"/>.
        /// </summary>
        public bool TryGetFailure(out string reason)
        {
            reason = null;
            if (status != Failed) return false;
            bool told = error != null && !string.IsNullOrEmpty(error.message);
            bool coded = error != null && !string.IsNullOrEmpty(error.code);
            reason = told ? error.message : coded ? error.code : "no reason given";
            return true;
        }
    }

    /// <summary><c>POST /v1/sessions/{id}/utterances</c> → 202.</summary>
    [Serializable]
    public sealed class JobAcceptedDto
    {
        public string job_id;
        public string status;
        public string status_url;
    }

    /// <summary><c>POST /v1/sessions</c> → 201.</summary>
    [Serializable]
    public sealed class SessionDto
    {
        public string id;
        public string persona;
        public string persona_version;
        public string utterances_url;
    }

    /// <summary>Body of every non-2xx API response (schemas/errors.py ErrorResponse).</summary>
    [Serializable]
    public sealed class ErrorResponseDto
    {
        public ErrorDetailDto error;
    }

    [Serializable]
    public sealed class ErrorDetailDto
    {
        public string code;
        public string message;
    }

    /// <summary>Bodies the client sends.</summary>
    [Serializable]
    public sealed class TextUtteranceDto
    {
        public string text;
    }

    [Serializable]
    public sealed class SessionCreateDto
    {
        public string persona;
    }

    /// <summary>Where the listener was when the turn was cut off (schemas/jobs.py PlaybackPosition).</summary>
    [Serializable]
    public sealed class PlaybackPositionDto
    {
        public int segment;
        public double offset_s;
    }

    /// <summary><c>POST /v1/jobs/{id}/cancel</c>; without <c>played</c>, what was delivered counts as heard.</summary>
    [Serializable]
    public sealed class CancelRequestDto
    {
        public PlaybackPositionDto played;
    }
}
