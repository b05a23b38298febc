using System.Collections.Generic;
using System.Globalization;

namespace VTuber.Animation.Tests
{
    /// <summary>
    /// Stands in for the Unity side of a <see cref="SessionPlayer{T}"/>: it records every call as a line of text,
    /// keeps the downloads it was asked for (the test completes them when it likes) and keeps a
    /// <see cref="SegmentQueue{T}"/> the way VrmTrackPlayer does, so drops and late tracks act on a real queue.
    /// </summary>
    sealed class SessionRecorder : ISessionStage<string>, IAvatarControl
    {
        public readonly List<string> Log = new List<string>();
        public readonly List<SegmentDownload> Fetches = new List<SegmentDownload>();
        public readonly List<ExpressionCue> Cues = new List<ExpressionCue>();
        public readonly SegmentQueue<string> Queue = new SegmentQueue<string>(voices: 8);

        /// <summary>The audio of every Play call, in call order (drops do not remove them).</summary>
        public readonly List<string> Played = new List<string>();

        public void Fetch(SegmentDownload download)
        {
            Fetches.Add(download);
            Log.Add("fetch " + download.JobId + " " + download.Index);
        }

        public void Play(int sequence, string audio, AnimationTrack track)
        {
            Played.Add(audio);
            Log.Add("play " + sequence + " " + audio + (track == null ? " (no track yet)" : ""));
            Queue.Add(sequence, 1.0, track, audio);
        }

        public void AttachTrack(int sequence, AnimationTrack track)
        {
            Log.Add("track " + sequence);
            Queue.SetTrack(sequence, track);
        }

        public void DropFrom(int sequence)
        {
            Log.Add("drop from " + sequence);
            Queue.DropFrom(sequence, null);
        }

        public void SetExpression(ExpressionCue cue)
        {
            Cues.Add(cue);
            Log.Add(string.Format(CultureInfo.InvariantCulture, "expression {0} {1} for {2} fade {3}", cue.Expression, cue.Weight, cue.DurationS, cue.FadeS));
        }

        public void TriggerMotion(string motion)
        {
            Log.Add("motion " + motion);
        }

        public void LookAt(double x, double y, double z)
        {
            Log.Add(string.Format(CultureInfo.InvariantCulture, "look at {0} {1} {2}", x, y, z));
        }

        public void ResetPose()
        {
            Log.Add("reset");
        }

        /// <summary>Completes every download asked for so far, with "job/index" as the audio.</summary>
        public void Deliver(SessionPlayer<string> player)
        {
            var pending = new List<SegmentDownload>(Fetches);
            Fetches.Clear();
            foreach (SegmentDownload download in pending) player.AudioArrived(download, download.JobId + "/" + download.Index);
        }

        public List<string> Take()
        {
            var lines = new List<string>(Log);
            Log.Clear();
            return lines;
        }
    }
}
