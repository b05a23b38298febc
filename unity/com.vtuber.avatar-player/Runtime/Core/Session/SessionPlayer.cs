using System;
using System.Collections.Generic;
using VTuber.Animation.Wire;

namespace VTuber.Animation
{
    /// <summary>
    /// Plays a whole session as its channel reports it: every turn (a chat reply, a verbatim line) in the order the
    /// turns began, each turn's segments in index order, and manual avatar commands at once. Feed it the events
    /// (<see cref="Apply"/>) and the downloaded audio (<see cref="AudioArrived"/>); it calls the
    /// <see cref="ISessionStage{T}"/> to fetch, play, attach late tracks and drop, and the
    /// <see cref="IAvatarControl"/> for commands.
    /// </summary>
    /// <remarks>
    /// Audio of every turn is fetched as soon as it is announced (so the next turn is ready when the current one
    /// ends), but a segment plays only after every earlier segment, of its turn and of earlier turns. It plays as
    /// soon as its audio is in: its track follows through <see cref="ISessionStage{T}.AttachTrack"/> when it comes
    /// later. <c>job.interrupted</c> drops the rest of that turn, the part already queued included; a restarted
    /// reply (a higher LLM attempt) drops what was queued of the older attempt and plays the new one. A failed turn
    /// keeps what was heard and plays on what is already downloaded in order. Events of other types, or of a turn
    /// already over, change nothing. <typeparamref name="T"/> is the audio, e.g. an AudioClip.
    /// </remarks>
    public sealed class SessionPlayer<T>
    {
        sealed class Turn
        {
            public readonly TurnState<T> State;

            // Segments with audio, waiting for an earlier one; by index.
            public readonly Dictionary<int, PlayableSegment<T>> Waiting = new Dictionary<int, PlayableSegment<T>>();
            public readonly Dictionary<int, int> Sequences = new Dictionary<int, int>();
            public readonly HashSet<int> Lost = new HashSet<int>();
            public int NextIndex;
            public int FirstSequence = -1;

            public Turn(string jobId)
            {
                State = new TurnState<T>(jobId);
            }

            public string JobId
            {
                get { return State.JobId; }
            }

            public void Forget()
            {
                Waiting.Clear();
                Sequences.Clear();
                Lost.Clear();
                NextIndex = 0;
                FirstSequence = -1;
            }
        }

        readonly ISessionStage<T> _stage;
        readonly IAvatarControl _avatar;
        readonly List<Turn> _turns = new List<Turn>();
        readonly RecentIds _over = new RecentIds(); // turns that ended and commands applied: their later events are stale
        int _nextSequence;
        bool _pumping;
        bool _pumpAgain;

        public SessionPlayer(ISessionStage<T> stage, IAvatarControl avatar)
        {
            if (stage == null) throw new ArgumentNullException("stage");
            if (avatar == null) throw new ArgumentNullException("avatar");
            _stage = stage;
            _avatar = avatar;
            DefaultFadeS = 0.3;
        }

        /// <summary>Blend time of an expression command that names none (its <c>fade_s</c> is absent).</summary>
        public double DefaultFadeS { get; set; }

        /// <summary>The sequence the next segment handed to <see cref="ISessionStage{T}.Play"/> gets.</summary>
        public int NextSequence
        {
            get { return _nextSequence; }
        }

        /// <summary>The job whose segments play now (or are awaited next), or null when no turn is open.</summary>
        public string CurrentJobId
        {
            get { return _turns.Count > 0 ? _turns[0].JobId : null; }
        }

        /// <summary>Turns begun and not yet over, the current one included.</summary>
        public int OpenTurns
        {
            get { return _turns.Count; }
        }

        /// <summary>
        /// Fold in one event of the session (a channel frame's data). False when it changed nothing: a duplicate, a
        /// type this client does not know, or a turn already over.
        /// </summary>
        public bool Apply(JobEventDto e)
        {
            if (e == null || string.IsNullOrEmpty(e.type) || string.IsNullOrEmpty(e.job_id)) return false;
            if (e.type == JobEventType.AvatarCommand) return Command(e);
            if (_over.Contains(e.job_id)) return false;
            Turn turn = Find(e.job_id);
            if (turn == null)
            {
                // Only a known, non-final event opens a turn: an ending of a turn never seen has nothing to play.
                if (!OpensTurn(e.type)) return false;
                turn = new Turn(e.job_id);
                _turns.Add(turn);
            }
            bool changed = turn.State.Apply(e);
            Pump();
            return changed;
        }

        /// <summary>The audio of <paramref name="download"/> is here. False when it is no longer wanted (the turn ended or restarted).</summary>
        public bool AudioArrived(SegmentDownload download, T audio)
        {
            Turn turn = download == null ? null : Find(download.JobId);
            if (turn == null || !turn.State.AudioArrived(download, audio)) return false;
            Pump();
            return true;
        }

        /// <summary>The audio of <paramref name="download"/> could not be fetched: the segment is skipped, the turn plays on.</summary>
        public bool AudioLost(SegmentDownload download)
        {
            Turn turn = download == null ? null : Find(download.JobId);
            if (turn == null || !turn.State.AudioLost(download)) return false;
            turn.Lost.Add(download.Index);
            Pump();
            return true;
        }

        /// <summary>
        /// Which turn and segment index <paramref name="sequence"/> is, while its turn is open: for reporting the
        /// playback position with <c>POST /v1/jobs/{id}/cancel</c>.
        /// </summary>
        public bool TryLocate(int sequence, out string jobId, out int index)
        {
            foreach (Turn turn in _turns)
            {
                foreach (KeyValuePair<int, int> pair in turn.Sequences)
                {
                    if (pair.Value != sequence) continue;
                    jobId = turn.JobId;
                    index = pair.Key;
                    return true;
                }
            }
            jobId = null;
            index = -1;
            return false;
        }

        static bool OpensTurn(string type)
        {
            switch (type)
            {
                case JobEventType.JobQueued:
                case JobEventType.StageStarted:
                case JobEventType.StageFinished:
                case JobEventType.TranscriptReady:
                case JobEventType.SegmentQueued:
                case JobEventType.SegmentAudioReady:
                case JobEventType.SegmentAnimationReady:
                    return true;
                default:
                    return false;
            }
        }

        bool Command(JobEventDto e)
        {
            AvatarCommandDto command = e.command;
            if (command == null || string.IsNullOrEmpty(command.action) || _over.Contains(e.job_id)) return false;
            Turn opened = Find(e.job_id); // a command job is no turn, even if its job.queued opened one
            if (opened != null && opened.FirstSequence < 0) _turns.Remove(opened);
            bool applied = Dispatch(command);
            _over.Add(e.job_id);
            Pump();
            return applied;
        }

        bool Dispatch(AvatarCommandDto command)
        {
            switch (command.action)
            {
                case AvatarCommandDto.Expression:
                    if (string.IsNullOrEmpty(command.expression)) return false;
                    double fade = command.HasFade ? command.fade_s : DefaultFadeS;
                    _avatar.SetExpression(new ExpressionCue(command.expression, command.weight, command.duration_s, fade));
                    return true;
                case AvatarCommandDto.Motion:
                    if (string.IsNullOrEmpty(command.motion)) return false;
                    _avatar.TriggerMotion(command.motion);
                    return true;
                case AvatarCommandDto.LookAt:
                    _avatar.LookAt(command.x, command.y, command.z);
                    return true;
                case AvatarCommandDto.Reset:
                    _avatar.ResetPose();
                    return true;
                default:
                    return false; // an action added after this client: ignored like an unknown event
            }
        }

        Turn Find(string jobId)
        {
            for (int i = 0; i < _turns.Count; i++)
            {
                if (_turns[i].JobId == jobId) return _turns[i];
            }
            return null;
        }

        // The stage may answer from inside a call (a cached download): that pumps again after this pass, not within it.
        void Pump()
        {
            if (_pumping)
            {
                _pumpAgain = true;
                return;
            }
            _pumping = true;
            try
            {
                do
                {
                    _pumpAgain = false;
                    PumpOnce();
                } while (_pumpAgain);
            }
            finally
            {
                _pumping = false;
            }
        }

        void PumpOnce()
        {
            for (int i = 0; i < _turns.Count; i++) Collect(_turns[i]);
            while (_turns.Count > 0)
            {
                Turn head = _turns[0];
                if (head.State.Status == JobDto.Interrupted)
                {
                    DropPlayed(head);
                    Close(0);
                    continue;
                }
                PlayInOrder(head);
                if (!IsOver(head)) break;
                Close(0);
            }
            // A later turn that ended badly before its time has nothing queued: it just goes.
            for (int i = _turns.Count - 1; i >= 1; i--)
            {
                string status = _turns[i].State.Status;
                if (status == JobDto.Interrupted || status == JobDto.Failed) Close(i);
            }
        }

        // Restarts, downloads (every turn's, early) and audio that came in; late tracks to what already plays.
        void Collect(Turn turn)
        {
            if (turn.State.TakeRestart())
            {
                DropPlayed(turn);
                turn.Forget();
            }
            SegmentDownload download;
            while (turn.State.TryNextDownload(out download)) _stage.Fetch(download);
            PlayableSegment<T> audible;
            while (turn.State.TryNextAudible(out audible)) turn.Waiting[audible.Index] = audible;
            int index;
            AnimationTrack track;
            while (turn.State.TryNextLateTrack(out index, out track))
            {
                int sequence;
                PlayableSegment<T> waiting;
                if (turn.Sequences.TryGetValue(index, out sequence)) _stage.AttachTrack(sequence, track);
                else if (turn.Waiting.TryGetValue(index, out waiting))
                    turn.Waiting[index] = new PlayableSegment<T>(index, waiting.Audio, track);
            }
        }

        void PlayInOrder(Turn turn)
        {
            int total = turn.State.TotalSegments;
            bool completed = turn.State.Status == JobDto.Completed;
            while (total < 0 || turn.NextIndex < total)
            {
                int index = turn.NextIndex;
                PlayableSegment<T> audible;
                if (turn.Waiting.TryGetValue(index, out audible))
                {
                    turn.Waiting.Remove(index);
                    int sequence = _nextSequence++;
                    if (turn.FirstSequence < 0) turn.FirstSequence = sequence;
                    turn.Sequences[index] = sequence;
                    turn.NextIndex++;
                    _stage.Play(sequence, audible.Audio, audible.Track);
                    continue;
                }
                // Skipped: its download was given up, or the turn completed without ever announcing its audio.
                bool neverComing = completed && total >= 0 && !turn.State.AudioAnnounced(index);
                if (turn.Lost.Contains(index) || neverComing)
                {
                    turn.NextIndex++;
                    continue;
                }
                break;
            }
        }

        // Completed and every segment played (or skipped); failed (what was downloaded in order has been played).
        static bool IsOver(Turn turn)
        {
            switch (turn.State.Status)
            {
                case JobDto.Completed:
                    int total = turn.State.TotalSegments;
                    return total < 0 || turn.NextIndex >= total;
                case JobDto.Failed:
                case JobDto.Interrupted:
                    return true;
                default:
                    return false;
            }
        }

        // Only the current turn can have queued segments, and they are the last ones queued: drop them and reuse
        // their numbers, so the stage's sequence stays without gaps.
        void DropPlayed(Turn turn)
        {
            if (turn.FirstSequence < 0) return;
            _stage.DropFrom(turn.FirstSequence);
            _nextSequence = turn.FirstSequence;
            turn.Sequences.Clear();
            turn.FirstSequence = -1;
        }

        void Close(int position)
        {
            _over.Add(_turns[position].JobId);
            _turns.RemoveAt(position);
        }
    }
}
