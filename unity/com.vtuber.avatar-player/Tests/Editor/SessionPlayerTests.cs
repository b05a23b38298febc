using System.Collections.Generic;
using NUnit.Framework;
using VTuber.Animation.Wire;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class SessionPlayerTests
    {
        static JobEventDto Event(string job, string type, int attempt = 0, SegmentDto segment = null, int total = 0)
        {
            return new JobEventDto
            {
                type = type,
                job_id = job,
                session_id = "session1",
                at = "2026-11-29T05:00:00Z",
                attempt = attempt,
                segment = segment,
                segments_total = total,
            };
        }

        static JobEventDto Audio(string job, int index, int attempt = 1)
        {
            return Event(job, JobEventType.SegmentAudioReady, attempt, new SegmentDto
            {
                index = index,
                text = "Sentence " + index,
                emotion = "neutral",
                motions = new string[0],
                audio_id = job + attempt + "-" + index,
                audio_url = "/v1/audio/" + job + attempt + "-" + index,
            });
        }

        static JobEventDto Track(string job, int index, int attempt = 1)
        {
            JobEventDto e = Audio(job, index, attempt);
            e.type = JobEventType.SegmentAnimationReady;
            e.segment.ready = true;
            e.segment.animation = new AnimationTrackDto { schema_version = "1.0", duration_s = 1.0, source = "energy", emotion = "neutral" };
            return e;
        }

        static JobEventDto Command(string job, AvatarCommandDto command)
        {
            JobEventDto e = Event(job, JobEventType.AvatarCommand);
            e.command = command;
            return e;
        }

        static void Apply(SessionPlayer<string> player, params JobEventDto[] events)
        {
            foreach (JobEventDto e in events) player.Apply(e);
        }

        SessionRecorder _out;
        SessionPlayer<string> _player;

        [SetUp]
        public void SetUp()
        {
            _out = new SessionRecorder();
            _player = new SessionPlayer<string>(_out, _out);
        }

        [Test]
        public void TwoTurnsSegmentsPlayInTurnOrderThenIndexOrder()
        {
            Apply(_player, Event("A", JobEventType.JobQueued), Event("B", JobEventType.JobQueued));
            // B is quicker than A, and A's segments arrive out of order.
            Apply(_player, Audio("B", 0), Track("B", 0), Audio("A", 1), Track("A", 1), Audio("A", 0));
            CollectionAssert.AreEqual(new[] { "fetch B 0", "fetch A 1", "fetch A 0" }, _out.Take(), "every turn's audio is fetched at once");
            _out.Deliver(_player);
            CollectionAssert.AreEqual(new[] { "play 0 A/0 (no track yet)", "play 1 A/1" }, _out.Take(), "A first; its segment 0 before its track");

            Apply(_player, Track("A", 0));
            CollectionAssert.AreEqual(new[] { "track 0" }, _out.Take());
            Apply(_player, Event("B", JobEventType.JobCompleted, total: 1));
            CollectionAssert.IsEmpty(_out.Take(), "B waits for A");
            Apply(_player, Audio("A", 2), Track("A", 2), Event("A", JobEventType.JobCompleted, total: 3));
            _out.Deliver(_player);
            CollectionAssert.AreEqual(new[] { "fetch A 2", "play 2 A/2", "play 3 B/0" }, _out.Take());
            Assert.AreEqual(0, _player.OpenTurns);
            Assert.AreEqual(4, _player.NextSequence);
        }

        [Test]
        public void AnInterruptDropsTheRestOfThatTurnAndTheNextTurnTakesItsPlace()
        {
            Apply(_player, Event("A", JobEventType.JobQueued), Audio("A", 0), Track("A", 0), Audio("A", 1), Track("A", 1), Event("A", JobEventType.JobCompleted, total: 2));
            _out.Deliver(_player);
            Apply(_player, Event("B", JobEventType.JobQueued), Audio("B", 0), Track("B", 0), Audio("B", 1));
            _out.Deliver(_player);
            _out.Take();
            while (_out.Queue.ScheduleNext(0.0, 0.1) != null) { }
            Assert.AreEqual(4, _out.Queue.NextIndex, "A/0 A/1 B/0 B/1 are on the clock");
            Assert.AreEqual("B", _player.CurrentJobId);
            string job;
            int index;
            Assert.IsTrue(_player.TryLocate(3, out job, out index));
            Assert.AreEqual("B", job);
            Assert.AreEqual(1, index);

            Apply(_player, Event("B", JobEventType.JobInterrupted), Audio("B", 2), Track("B", 1));
            CollectionAssert.AreEqual(new[] { "drop from 2" }, _out.Take(), "B's queued segments go, A's stay; later B events change nothing");
            Assert.AreEqual(2, _out.Queue.NextIndex);
            Assert.AreEqual(PlaybackState.Playing, _out.Queue.Locate(1.5).State, "A/1 plays on");
            Assert.AreEqual(PlaybackState.Waiting, _out.Queue.Locate(2.5).State, "B/0 is gone");
            Assert.AreEqual(2, _player.NextSequence, "numbers are reused: no gap for the stage");
            Assert.IsFalse(_player.Apply(Audio("B", 3)));

            Apply(_player, Event("C", JobEventType.JobQueued), Audio("C", 0), Track("C", 0));
            _out.Deliver(_player);
            CollectionAssert.AreEqual(new[] { "fetch C 0", "play 2 C/0" }, _out.Take());
        }

        [Test]
        public void AnInterruptedTurnThatHadNotStartedJustGoes()
        {
            Apply(_player, Event("A", JobEventType.JobQueued), Event("B", JobEventType.JobQueued), Audio("B", 0));
            _out.Deliver(_player);
            Apply(_player, Event("B", JobEventType.JobInterrupted), Audio("A", 0), Track("A", 0), Event("A", JobEventType.JobCompleted, total: 1));
            _out.Deliver(_player);
            CollectionAssert.AreEqual(new[] { "fetch B 0", "fetch A 0", "play 0 A/0" }, _out.Take());
            Assert.AreEqual(0, _player.OpenTurns);
        }

        [Test]
        public void ARestartedReplyReplacesWhatWasQueuedOfTheOldAttempt()
        {
            Apply(_player, Event("A", JobEventType.JobQueued), Audio("A", 0, 1), Track("A", 0, 1));
            _out.Deliver(_player);
            _out.Take();
            Apply(_player, Event("A", JobEventType.StageStarted, attempt: 2), Audio("A", 0, 2), Track("A", 0, 2));
            _out.Deliver(_player);
            CollectionAssert.AreEqual(new[] { "drop from 0", "fetch A 0", "play 0 A/0" }, _out.Take());
        }

        [Test]
        public void ALostDownloadIsSkippedAndAFailedTurnKeepsWhatWasHeard()
        {
            Apply(_player, Event("A", JobEventType.JobQueued), Audio("A", 0), Audio("A", 1), Audio("A", 2));
            List<SegmentDownload> fetches = new List<SegmentDownload>(_out.Fetches);
            _out.Fetches.Clear();
            Assert.IsTrue(_player.AudioLost(fetches[0]));
            Assert.IsTrue(_player.AudioArrived(fetches[1], "A/1"));
            Assert.IsFalse(_player.AudioArrived(fetches[1], "A/1 again"));
            _out.Take();
            Apply(_player, Event("A", JobEventType.JobFailed), Event("B", JobEventType.JobQueued), Audio("B", 0));
            Assert.IsFalse(_player.AudioArrived(fetches[2], "A/2"), "the failed turn is over");
            _out.Deliver(_player);
            CollectionAssert.AreEqual(new[] { "fetch B 0", "play 1 B/0 (no track yet)" }, _out.Take());
            CollectionAssert.AreEqual(new[] { "A/1", "B/0" }, _out.Played);
        }

        [Test]
        public void ACompletedTurnSkipsASegmentWhoseAudioNeverCame()
        {
            Apply(_player, Event("A", JobEventType.JobQueued), Audio("A", 1), Event("A", JobEventType.JobCompleted, total: 2), Event("B", JobEventType.JobQueued), Audio("B", 0));
            _out.Deliver(_player);
            CollectionAssert.AreEqual(new[] { "A/1", "B/0" }, _out.Played);
        }

        [Test]
        public void AvatarCommandsAreAppliedAtOnceEvenMidTurn()
        {
            Apply(_player, Event("A", JobEventType.JobQueued), Audio("A", 0));
            _out.Take();
            Apply(_player,
                Event("cmd1", JobEventType.JobQueued),
                Command("cmd1", new AvatarCommandDto { action = "expression", expression = "happy", weight = 0.7, duration_s = 1.5, fade_s = AvatarCommandDto.NoFade }),
                Event("cmd1", JobEventType.JobCompleted),
                Command("cmd2", new AvatarCommandDto { action = "expression", expression = "sad", weight = 2, duration_s = 3, fade_s = 0 }),
                Command("cmd3", new AvatarCommandDto { action = "motion", motion = "wave" }),
                Command("cmd4", new AvatarCommandDto { action = "look_at", x = -0.5, y = 1.5, z = 2 }),
                Command("cmd5", new AvatarCommandDto { action = "reset" }));
            CollectionAssert.AreEqual(new[]
            {
                "expression happy 0.7 for 1.5 fade 0.3", "expression sad 1 for 3 fade 0", "motion wave", "look at -0.5 1.5 2", "reset",
            }, _out.Take());
            Assert.AreEqual("A", _player.CurrentJobId, "a command job is no turn");
            Assert.AreEqual(1, _player.OpenTurns);
        }

        [Test]
        public void RepeatedUnknownAndEmptyCommandsDoNothing()
        {
            var wave = new AvatarCommandDto { action = "motion", motion = "wave" };
            Assert.IsTrue(_player.Apply(Command("cmd1", wave)));
            Assert.IsFalse(_player.Apply(Command("cmd1", wave)), "the same command job again");
            Assert.IsFalse(_player.Apply(Command("cmd2", new AvatarCommandDto { action = "dance" })));
            Assert.IsFalse(_player.Apply(Command("cmd3", new AvatarCommandDto { action = "motion" })));
            Assert.IsFalse(_player.Apply(Command("cmd4", null)));
            CollectionAssert.AreEqual(new[] { "motion wave" }, _out.Take());
        }

        [Test]
        public void UnknownEventTypesAndEndingsOfUnseenTurnsOpenNoTurn()
        {
            Assert.IsFalse(_player.Apply(Event("X", "viewer.cheered")));
            Assert.IsFalse(_player.Apply(Event("Y", JobEventType.JobCompleted, total: 2)));
            Assert.IsFalse(_player.Apply(Event("Z", JobEventType.JobInterrupted)));
            Assert.IsFalse(_player.Apply(null));
            Assert.AreEqual(0, _player.OpenTurns);
            Apply(_player, Event("A", JobEventType.JobQueued));
            Assert.IsFalse(_player.Apply(Event("A", "segment.subtitled")), "an open turn ignores it too");
            CollectionAssert.IsEmpty(_out.Take());
        }

        [Test]
        public void AStageThatAnswersFromInsideFetchStillPlaysInOrder()
        {
            var stage = new InstantStage();
            var player = new SessionPlayer<string>(stage, new SessionRecorder());
            stage.Player = player;
            Apply(player, Event("A", JobEventType.JobQueued), Audio("A", 1), Audio("A", 0), Track("A", 0), Track("A", 1), Event("A", JobEventType.JobCompleted, total: 2));
            CollectionAssert.AreEqual(new[] { "0 A/0", "1 A/1" }, stage.Played);
        }

        /// <summary>A cache: audio arrives inside Fetch.</summary>
        sealed class InstantStage : ISessionStage<string>
        {
            public SessionPlayer<string> Player;
            public readonly List<string> Played = new List<string>();

            public void Fetch(SegmentDownload download)
            {
                Player.AudioArrived(download, download.JobId + "/" + download.Index);
            }

            public void Play(int sequence, string audio, AnimationTrack track)
            {
                Played.Add(sequence + " " + audio);
            }

            public void AttachTrack(int sequence, AnimationTrack track)
            {
            }

            public void DropFrom(int sequence)
            {
            }
        }
    }
}
