using System;
using System.Collections.Generic;

namespace VTuber.Animation
{
    /// <summary>Where playback stands on the audio clock.</summary>
    public enum PlaybackState
    {
        /// <summary>More audio is expected: before the first segment starts, or the next one is late.</summary>
        Waiting,
        Playing,
        /// <summary>The turn's last segment has been played.</summary>
        Finished,
    }

    /// <summary>One segment's audio (<typeparamref name="T"/>, e.g. an AudioClip) and track, and its place on the clock once scheduled.</summary>
    public sealed class QueuedSegment<T>
    {
        internal MotionTrigger[] Motions;
        internal int NextMotion;

        internal QueuedSegment(int index, double durationS, AnimationTrack track, T payload)
        {
            Index = index;
            DurationS = durationS;
            Payload = payload;
            SetTrack(track);
        }

        // A track that arrives after its audio started: its motions that are already due fire at once (late, not lost).
        internal void SetTrack(AnimationTrack track)
        {
            Track = track;
            Motions = track == null ? new MotionTrigger[0] : SortedMotions(track.Motions);
            NextMotion = 0;
        }

        public int Index { get; private set; }

        /// <summary>Length of the audio, which rules the clock (the track may be a rounding shorter or longer).</summary>
        public double DurationS { get; private set; }

        /// <summary>May be null: the audio still plays, with a resting face.</summary>
        public AnimationTrack Track { get; private set; }

        public T Payload { get; private set; }
        public bool IsScheduled { get; private set; }

        /// <summary>Audio-clock time at which this segment's first sample plays.</summary>
        public double StartTime { get; private set; }

        public double EndTime
        {
            get { return StartTime + DurationS; }
        }

        /// <summary>Which of the queue's voices (audio sources) plays it.</summary>
        public int Voice { get; private set; }

        internal void Schedule(double startTime, int voice)
        {
            StartTime = startTime;
            Voice = voice;
            IsScheduled = true;
        }

        static MotionTrigger[] SortedMotions(List<MotionTrigger> motions)
        {
            var sorted = motions.ToArray();
            // Insertion sort: stable, and the backend already sends them sorted.
            for (int i = 1; i < sorted.Length; i++)
            {
                MotionTrigger item = sorted[i];
                int j = i - 1;
                while (j >= 0 && sorted[j].T > item.T)
                {
                    sorted[j + 1] = sorted[j];
                    j--;
                }
                sorted[j + 1] = item;
            }
            return sorted;
        }
    }

    /// <summary>What is playing at a clock time; <c>Segment</c> is null unless <c>State</c> is Playing.</summary>
    public struct PlaybackPosition<T>
    {
        public readonly PlaybackState State;
        public readonly QueuedSegment<T> Segment;

        /// <summary>Seconds into <c>Segment</c>: the time to sample its track at.</summary>
        public readonly double LocalTime;

        public PlaybackPosition(PlaybackState state, QueuedSegment<T> segment, double localTime)
        {
            State = state;
            Segment = segment;
            LocalTime = localTime;
        }
    }

    /// <summary>A motion whose time the clock has passed.</summary>
    public struct MotionCue
    {
        public readonly int SegmentIndex;
        public readonly string Name;

        /// <summary>Audio-clock time the motion was due (it may be reported up to a frame later).</summary>
        public readonly double DueTime;

        public MotionCue(int segmentIndex, string name, double dueTime)
        {
            SegmentIndex = segmentIndex;
            Name = name;
            DueTime = dueTime;
        }
    }

    /// <summary>
    /// Plays one turn's segments in index order, back to back on a shared audio clock (e.g. Unity's DSP time),
    /// whatever order they arrive in. A segment that is ready in time starts exactly when the previous one
    /// ends (gapless); a late one starts as soon as it can. Voices are the audio sources that take turns:
    /// with two, one plays while the next is scheduled. Motion cues are reported once each, in time order.
    /// </summary>
    public sealed class SegmentQueue<T>
    {
        readonly Dictionary<int, QueuedSegment<T>> _pending = new Dictionary<int, QueuedSegment<T>>();
        // Scheduled segments in start order; dropped once they have ended and fired all their motions.
        readonly List<QueuedSegment<T>> _scheduled = new List<QueuedSegment<T>>();
        int _scheduledCount;
        double _lastEnd = double.NegativeInfinity;

        public SegmentQueue(int voices = 2, int firstIndex = 0)
        {
            if (voices < 1) throw new ArgumentOutOfRangeException("voices", "at least one voice is needed");
            Voices = voices;
            NextIndex = firstIndex;
            TotalSegments = -1;
        }

        public int Voices { get; private set; }

        /// <summary>The index of the next segment to schedule.</summary>
        public int NextIndex { get; private set; }

        /// <summary>How many segments the turn has, once known (see <see cref="Complete"/>); -1 before.</summary>
        public int TotalSegments { get; private set; }

        /// <summary>Number of segments received but not yet scheduled.</summary>
        public int PendingCount
        {
            get { return _pending.Count; }
        }

        /// <summary>Queue a segment. False when it is a duplicate, already passed, or beyond the known total.</summary>
        public bool Add(int index, double durationS, AnimationTrack track, T payload)
        {
            if (!(durationS > 0.0) || double.IsInfinity(durationS))
                throw new ArgumentOutOfRangeException("durationS", "a segment needs a positive, finite duration");
            if (index < NextIndex || _pending.ContainsKey(index)) return false;
            if (TotalSegments >= 0 && index >= TotalSegments) return false;
            _pending[index] = new QueuedSegment<T>(index, durationS, track, payload);
            return true;
        }

        /// <summary>The turn has exactly <paramref name="totalSegments"/> segments: once they have played, playback is Finished.</summary>
        public void Complete(int totalSegments)
        {
            if (totalSegments < NextIndex)
                throw new ArgumentOutOfRangeException("totalSegments", "fewer segments than were already scheduled");
            TotalSegments = totalSegments;
            var beyond = new List<int>();
            foreach (int index in _pending.Keys)
            {
                if (index >= totalSegments) beyond.Add(index);
            }
            foreach (int index in beyond) _pending.Remove(index);
        }

        /// <summary>
        /// Schedule the next segment if it has arrived and a voice is free at <paramref name="clock"/>: it starts
        /// when the previous one ends, or <paramref name="leadS"/> from now if that has passed (audio cannot start
        /// in the past, and starting it takes the engine a moment). Null when there is nothing to do; call again
        /// until null, every frame.
        /// </summary>
        public QueuedSegment<T> ScheduleNext(double clock, double leadS)
        {
            QueuedSegment<T> next;
            if (!_pending.TryGetValue(NextIndex, out next)) return null;
            if (SoundingCount(clock) >= Voices) return null;
            next.Schedule(Math.Max(_lastEnd, clock + leadS), FreeVoice(clock));
            _pending.Remove(NextIndex);
            _scheduled.Add(next);
            _scheduledCount++;
            _lastEnd = next.EndTime;
            NextIndex++;
            return next;
        }

        /// <summary>What plays at <paramref name="clock"/>; changes nothing.</summary>
        public PlaybackPosition<T> Locate(double clock)
        {
            bool laterAudio = false;
            for (int i = 0; i < _scheduled.Count; i++)
            {
                QueuedSegment<T> segment = _scheduled[i];
                if (segment.StartTime <= clock && clock < segment.EndTime)
                    return new PlaybackPosition<T>(PlaybackState.Playing, segment, clock - segment.StartTime);
                if (segment.EndTime > clock) laterAudio = true;
            }
            bool allScheduled = TotalSegments >= 0 && NextIndex >= TotalSegments;
            PlaybackState state = allScheduled && !laterAudio ? PlaybackState.Finished : PlaybackState.Waiting;
            return new PlaybackPosition<T>(state, null, 0.0);
        }

        /// <summary>
        /// Move to <paramref name="clock"/>: append to <paramref name="fired"/> every motion that has come due
        /// since the last call (each exactly once, in time order, across segment boundaries too), then report
        /// the position. Call once per frame with a clock that does not go backwards.
        /// </summary>
        public PlaybackPosition<T> Advance(double clock, List<MotionCue> fired)
        {
            for (int i = 0; i < _scheduled.Count; i++)
            {
                QueuedSegment<T> segment = _scheduled[i];
                if (segment.StartTime > clock) break;
                while (segment.NextMotion < segment.Motions.Length)
                {
                    MotionTrigger motion = segment.Motions[segment.NextMotion];
                    double due = segment.StartTime + motion.T;
                    if (due > clock) break;
                    if (fired != null) fired.Add(new MotionCue(segment.Index, motion.Name, due));
                    segment.NextMotion++;
                }
            }
            PlaybackPosition<T> position = Locate(clock);
            DropSpent(clock);
            return position;
        }

        // No RemoveAll: a lambda over the clock would allocate every frame.
        void DropSpent(double clock)
        {
            int kept = 0;
            for (int i = 0; i < _scheduled.Count; i++)
            {
                QueuedSegment<T> segment = _scheduled[i];
                bool spent = segment.EndTime <= clock && segment.NextMotion >= segment.Motions.Length;
                if (!spent) _scheduled[kept++] = segment;
            }
            _scheduled.RemoveRange(kept, _scheduled.Count - kept);
        }

        /// <summary>
        /// Give segment <paramref name="index"/> its track, late: the audio was queued without one (it started before
        /// the face was ready). False when the segment is not queued (never came, or spent or dropped).
        /// </summary>
        public bool SetTrack(int index, AnimationTrack track)
        {
            QueuedSegment<T> segment;
            if (_pending.TryGetValue(index, out segment))
            {
                segment.SetTrack(track);
                return true;
            }
            for (int i = 0; i < _scheduled.Count; i++)
            {
                if (_scheduled[i].Index != index) continue;
                _scheduled[i].SetTrack(track);
                return true;
            }
            return false;
        }

        /// <summary>
        /// Forget segment <paramref name="index"/> and every later one, scheduled or not (an interrupted turn): the
        /// scheduled ones are appended to <paramref name="dropped"/> so their voices can be stopped. The next segment
        /// to schedule is then <paramref name="index"/> (or the one that was next, if earlier); earlier segments play on.
        /// A known total beyond <paramref name="index"/> is forgotten: the turn is open again.
        /// </summary>
        public void DropFrom(int index, List<QueuedSegment<T>> dropped)
        {
            var beyond = new List<int>();
            foreach (int pending in _pending.Keys)
            {
                if (pending >= index) beyond.Add(pending);
            }
            foreach (int pending in beyond) _pending.Remove(pending);
            int kept = 0;
            _lastEnd = double.NegativeInfinity;
            for (int i = 0; i < _scheduled.Count; i++)
            {
                QueuedSegment<T> segment = _scheduled[i];
                if (segment.Index >= index)
                {
                    if (dropped != null) dropped.Add(segment);
                    continue;
                }
                _scheduled[kept++] = segment;
                _lastEnd = Math.Max(_lastEnd, segment.EndTime);
            }
            _scheduled.RemoveRange(kept, _scheduled.Count - kept);
            if (NextIndex > index) NextIndex = index;
            if (TotalSegments > index) TotalSegments = -1;
        }

        // Round robin, skipping a voice that still sounds (after DropFrom the next in turn may be busy).
        int FreeVoice(double clock)
        {
            for (int offset = 0; offset < Voices; offset++)
            {
                int voice = (_scheduledCount + offset) % Voices;
                bool busy = false;
                for (int i = 0; i < _scheduled.Count; i++)
                {
                    if (_scheduled[i].Voice == voice && _scheduled[i].EndTime > clock) busy = true;
                }
                if (!busy) return voice;
            }
            return _scheduledCount % Voices;
        }

        int SoundingCount(double clock)
        {
            int count = 0;
            for (int i = 0; i < _scheduled.Count; i++)
            {
                if (_scheduled[i].EndTime > clock) count++;
            }
            return count;
        }
    }
}
