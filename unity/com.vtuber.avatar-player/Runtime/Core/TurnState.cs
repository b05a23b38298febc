using System.Collections.Generic;
using VTuber.Animation.Wire;

namespace VTuber.Animation
{
    /// <summary>A segment's audio to fetch, handed out once by <see cref="TurnState{T}.TryNextDownload"/>.</summary>
    public sealed class SegmentDownload
    {
        // Which reply the download belongs to: audio that arrives after a restart is for a forgotten segment.
        internal readonly int Generation;

        internal SegmentDownload(int generation, string jobId, int index, string url)
        {
            Generation = generation;
            JobId = jobId;
            Index = index;
            Url = url;
        }

        /// <summary>The job (turn) the segment belongs to: a session plays many.</summary>
        public string JobId { get; private set; }

        public int Index { get; private set; }

        /// <summary>As the API sent it: absolute, or relative to the API's base URL.</summary>
        public string Url { get; private set; }
    }

    /// <summary>A segment whose audio and track are both here: hand it to the player.</summary>
    public struct PlayableSegment<T>
    {
        public readonly int Index;
        public readonly T Audio;

        /// <summary>Null when the segment came without one: the audio still plays, with a resting face.</summary>
        public readonly AnimationTrack Track;

        public PlayableSegment(int index, T audio, AnimationTrack track)
        {
            Index = index;
            Audio = audio;
            Track = track;
        }
    }

    /// <summary>
    /// One job's turn as a client follows it, from its events (SSE) or from polled job views, in any mix:
    /// which segment audio to download (each once), and which segments are playable (audio downloaded and
    /// track received), each handed out once. Duplicated and stale input changes nothing; when the reply
    /// restarts (a higher LLM attempt), the older attempt's segments are forgotten. <typeparamref name="T"/>
    /// is the downloaded audio, e.g. an AudioClip. The player's <see cref="SegmentQueue{T}"/> puts the
    /// playable segments in order.
    /// </summary>
    public sealed class TurnState<T>
    {
        sealed class Slot
        {
            public SegmentDto Latest;
            public string AudioUrl;
            public string AudioId;
            public bool Requested;
            public bool HasAudio;
            public T Audio;
            public bool Ready;
            public AnimationTrack Track;
            public bool Handed;

            // The player has this segment's track (or knows it has none): no late track to hand out.
            public bool TrackHanded;
        }

        readonly SortedDictionary<int, Slot> _slots = new SortedDictionary<int, Slot>();
        int _generation;
        bool _restartPending;
        string _persona;

        public TurnState(string jobId)
        {
            JobId = jobId;
            TotalSegments = -1;
        }

        public string JobId { get; private set; }
        public string SessionId { get; private set; }

        /// <summary>queued | running | completed | failed (<see cref="JobDto"/>'s constants); null before any news.</summary>
        public string Status { get; private set; }

        public string Stage { get; private set; }
        public JobErrorDto Error { get; private set; }

        /// <summary>The LLM attempt the segments belong to, from 1; 0 until an event names one.</summary>
        public int Attempt { get; private set; }

        /// <summary>How many segments the reply has, once the LLM has finished; -1 before.</summary>
        public int TotalSegments { get; private set; }

        /// <summary>The last polled view's version, for the next long-poll's <c>since</c>; null before.</summary>
        public string Version { get; private set; }

        public bool IsFinal
        {
            get { return Status == JobDto.Completed || Status == JobDto.Failed || Status == JobDto.Interrupted; }
        }

        /// <summary>Completed, and every segment has been handed out: nothing is left to do.</summary>
        public bool IsComplete
        {
            get { return Status == JobDto.Completed && TotalSegments >= 0 && LeadingRun(true) >= TotalSegments; }
        }

        /// <summary>Failed, interrupted or complete: stop following.</summary>
        public bool IsOver
        {
            get { return Status == JobDto.Failed || Status == JobDto.Interrupted || IsComplete; }
        }

        /// <summary>
        /// The total is known and every segment's audio URL and track have arrived: only downloads remain.
        /// False after a stream that ended without them (e.g. the server had dropped an expired event log).
        /// </summary>
        public bool KnowsEverySegment
        {
            get { return TotalSegments >= 0 && LeadingRun(false) >= TotalSegments; }
        }

        /// <summary>Segments handed out without a gap from index 0: the turn's length for the player.</summary>
        public int PlayableCount
        {
            get { return LeadingRun(true); }
        }

        /// <summary>Fold in one event from the job's stream. False when it changed nothing (a duplicate, stale, or another job's).</summary>
        public bool Apply(JobEventDto e)
        {
            if (e == null || string.IsNullOrEmpty(e.type) || !IsThisJob(e.job_id) || IsFinal) return false;
            bool changed = NoteSession(e.session_id);
            if (e.attempt > 0)
            {
                if (e.attempt < Attempt) return changed; // a straggler of a reply that restarted
                if (e.attempt > Attempt)
                {
                    if (Attempt > 0) Restart();
                    Attempt = e.attempt;
                    changed = true;
                }
            }
            switch (e.type)
            {
                case JobEventType.JobQueued:
                    return SetStatus(JobDto.Queued) | changed;
                case JobEventType.StageStarted:
                    changed |= Stage != e.stage;
                    Stage = e.stage;
                    return SetStatus(JobDto.Running) | changed;
                case JobEventType.StageFinished:
                    if (e.stage == "llm" && e.segments_total > 0) changed |= SetTotal(e.segments_total);
                    return changed;
                case JobEventType.SegmentQueued:
                case JobEventType.SegmentAudioReady:
                case JobEventType.SegmentAnimationReady:
                    return Merge(e.segment) | changed;
                case JobEventType.JobCompleted:
                    if (e.segments_total > 0) SetTotal(e.segments_total);
                    Stage = null;
                    return SetStatus(JobDto.Completed) | changed;
                case JobEventType.JobFailed:
                    if (HasCode(e.error)) Error = e.error;
                    return SetStatus(JobDto.Failed) | changed;
                case JobEventType.JobInterrupted:
                    Stage = null;
                    return SetStatus(JobDto.Interrupted) | changed;
                default:
                    return changed; // transcript.ready and types added later: nothing to play
            }
        }

        /// <summary>
        /// Fold in a polled <c>GET /v1/jobs/{id}</c> view. A view holds only the current attempt's segments, and
        /// within an attempt a segment never loses its audio: one that did, or vanished, means the reply restarted.
        /// </summary>
        public bool Apply(JobDto job)
        {
            if (job == null || !IsThisJob(job.id)) return false;
            bool changed = NoteSession(job.session_id);
            SegmentDto[] segments = job.segments ?? new SegmentDto[0];
            if (job.version != Version)
            {
                Version = job.version;
                changed = true;
            }
            if (!string.IsNullOrEmpty(job.persona)) _persona = job.persona;
            if (ViewRestarted(segments))
            {
                Restart();
                if (Attempt > 0) Attempt++;
                changed = true;
            }
            foreach (SegmentDto segment in segments) changed |= Merge(segment);
            if (IsFinal) return changed;
            if (job.status == JobDto.Completed) changed |= SetTotal(segments.Length); // completed: every segment is listed
            if (job.status == JobDto.Failed && HasCode(job.error)) Error = job.error;
            if (!string.IsNullOrEmpty(job.status))
            {
                Stage = job.stage;
                changed |= SetStatus(job.status);
            }
            return changed;
        }

        /// <summary>The next segment whose audio can be fetched, in index order; each is handed out once.</summary>
        public bool TryNextDownload(out SegmentDownload download)
        {
            download = null;
            if (Status == JobDto.Failed) return false;
            foreach (KeyValuePair<int, Slot> pair in _slots)
            {
                Slot slot = pair.Value;
                if (slot.AudioUrl == null || slot.Requested || slot.HasAudio) continue;
                slot.Requested = true;
                download = new SegmentDownload(_generation, JobId, pair.Key, slot.AudioUrl);
                return true;
            }
            return false;
        }

        /// <summary>The audio of <paramref name="download"/> is here. False when its segment was forgotten meanwhile.</summary>
        public bool AudioArrived(SegmentDownload download, T audio)
        {
            Slot slot = SlotOf(download);
            if (slot == null || slot.HasAudio) return false;
            slot.HasAudio = true;
            slot.Audio = audio;
            return true;
        }

        /// <summary>The download failed: <see cref="TryNextDownload"/> offers it again.</summary>
        public void AudioFailed(SegmentDownload download)
        {
            Slot slot = SlotOf(download);
            if (slot != null && !slot.HasAudio) slot.Requested = false;
        }

        /// <summary>The next segment with both audio and track, in index order; each is handed out once.</summary>
        public bool TryNextPlayable(out PlayableSegment<T> playable)
        {
            foreach (KeyValuePair<int, Slot> pair in _slots)
            {
                Slot slot = pair.Value;
                if (slot.Handed || !slot.HasAudio || !slot.Ready) continue;
                slot.Handed = true;
                slot.TrackHanded = true;
                playable = new PlayableSegment<T>(pair.Key, slot.Audio, slot.Track);
                slot.Audio = default(T); // the player owns it now
                return true;
            }
            playable = default(PlayableSegment<T>);
            return false;
        }

        /// <summary>
        /// The next segment whose audio is here, in index order, with its track when that has arrived too (null
        /// otherwise: <see cref="TryNextLateTrack"/> hands it over later). Each is handed out once. For players
        /// that start the voice without waiting for the face.
        /// </summary>
        public bool TryNextAudible(out PlayableSegment<T> playable)
        {
            foreach (KeyValuePair<int, Slot> pair in _slots)
            {
                Slot slot = pair.Value;
                if (slot.Handed || !slot.HasAudio) continue;
                slot.Handed = true;
                slot.TrackHanded = slot.Ready;
                playable = new PlayableSegment<T>(pair.Key, slot.Audio, slot.Ready ? slot.Track : null);
                slot.Audio = default(T);
                return true;
            }
            playable = default(PlayableSegment<T>);
            return false;
        }

        /// <summary>A track that arrived after <see cref="TryNextAudible"/> handed out its segment's audio; each once.</summary>
        public bool TryNextLateTrack(out int index, out AnimationTrack track)
        {
            foreach (KeyValuePair<int, Slot> pair in _slots)
            {
                Slot slot = pair.Value;
                if (!slot.Handed || slot.TrackHanded || !slot.Ready) continue;
                slot.TrackHanded = true;
                if (slot.Track == null) continue; // the segment came without a track: nothing to attach
                index = pair.Key;
                track = slot.Track;
                return true;
            }
            index = -1;
            track = null;
            return false;
        }

        /// <summary>
        /// The client gave up on <paramref name="download"/> (it kept failing): it is not offered again. False when its
        /// segment was forgotten meanwhile (a restarted reply), i.e. the loss does not matter.
        /// </summary>
        public bool AudioLost(SegmentDownload download)
        {
            Slot slot = SlotOf(download);
            return slot != null && !slot.HasAudio;
        }

        /// <summary>Segment <paramref name="index"/>'s audio URL has arrived (it is being, or can be, downloaded).</summary>
        public bool AudioAnnounced(int index)
        {
            Slot slot;
            return _slots.TryGetValue(index, out slot) && slot.AudioUrl != null;
        }

        /// <summary>True once after the reply restarted with segments already handed out: the player must drop them.</summary>
        public bool TakeRestart()
        {
            bool restarted = _restartPending;
            _restartPending = false;
            return restarted;
        }

        /// <summary>The job as followed so far, in the polled view's shape (segments: the latest news of each).</summary>
        public JobDto Summary()
        {
            var segments = new List<SegmentDto>(_slots.Count);
            foreach (Slot slot in _slots.Values) segments.Add(slot.Latest);
            return new JobDto
            {
                id = JobId,
                session_id = SessionId,
                status = Status,
                stage = Stage,
                persona = _persona,
                segments = segments.ToArray(),
                error = Error,
                version = Version,
            };
        }

        bool Merge(SegmentDto segment)
        {
            if (segment == null || segment.index < 0) return false;
            if (TotalSegments >= 0 && segment.index >= TotalSegments) return false;
            bool changed = false;
            Slot slot;
            if (!_slots.TryGetValue(segment.index, out slot))
            {
                slot = new Slot { Latest = segment };
                _slots[segment.index] = slot;
                changed = true;
            }
            // Audio is announced before the track (segment.audio_ready), so a download can start early.
            if (slot.AudioUrl == null && !string.IsNullOrEmpty(segment.audio_url))
            {
                slot.AudioUrl = segment.audio_url;
                slot.AudioId = segment.audio_id ?? "";
                changed = true;
            }
            if (!slot.Ready && segment.ready)
            {
                slot.Ready = true;
                slot.Track = segment.animation != null && segment.animation.IsPresent ? segment.animation.ToTrack() : null;
                changed = true;
            }
            if (changed) slot.Latest = segment;
            return changed;
        }

        bool ViewRestarted(SegmentDto[] segments)
        {
            foreach (KeyValuePair<int, Slot> pair in _slots)
            {
                if (string.IsNullOrEmpty(pair.Value.AudioId)) continue;
                SegmentDto now = null;
                foreach (SegmentDto segment in segments)
                {
                    if (segment != null && segment.index == pair.Key) now = segment;
                }
                if (now == null || (now.audio_id ?? "") != pair.Value.AudioId) return true;
            }
            return false;
        }

        void Restart()
        {
            foreach (Slot slot in _slots.Values)
            {
                if (slot.Handed) _restartPending = true;
            }
            _slots.Clear();
            _generation++;
            TotalSegments = -1;
        }

        bool SetTotal(int total)
        {
            if (TotalSegments == total) return false;
            TotalSegments = total;
            var beyond = new List<int>();
            foreach (int index in _slots.Keys)
            {
                if (index >= total) beyond.Add(index);
            }
            foreach (int index in beyond) _slots.Remove(index);
            return true;
        }

        bool SetStatus(string status)
        {
            if (IsFinal || Status == status) return false;
            Status = status;
            return true;
        }

        bool NoteSession(string sessionId)
        {
            if (string.IsNullOrEmpty(sessionId) || SessionId == sessionId) return false;
            SessionId = sessionId;
            return true;
        }

        bool IsThisJob(string jobId)
        {
            return string.IsNullOrEmpty(jobId) || string.IsNullOrEmpty(JobId) || jobId == JobId;
        }

        Slot SlotOf(SegmentDownload download)
        {
            Slot slot;
            if (download == null || download.Generation != _generation) return null;
            return _slots.TryGetValue(download.Index, out slot) ? slot : null;
        }

        /// <summary>Segments from index 0 on, without a gap, that are handed out (or, unhanded, fully known).</summary>
        int LeadingRun(bool handed)
        {
            int count = 0;
            Slot slot;
            while (_slots.TryGetValue(count, out slot) && (handed ? slot.Handed : slot.AudioUrl != null && slot.Ready)) count++;
            return count;
        }

        static bool HasCode(JobErrorDto error)
        {
            return error != null && !string.IsNullOrEmpty(error.code);
        }
    }
}
