using System.Collections.Generic;
using NUnit.Framework;
using VTuber.Animation.Wire;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class TurnStateTests
    {
        const string Job = "job1";

        static JobEventDto Event(string type, int attempt = 0, SegmentDto segment = null, int total = 0, string stage = null)
        {
            return new JobEventDto
            {
                type = type,
                job_id = Job,
                session_id = "session1",
                at = "2026-11-28T10:00:00Z",
                stage = stage,
                attempt = attempt,
                segment = segment,
                segments_total = total,
            };
        }

        // A segment as each segment.* event carries it; attempt tags the audio so attempts differ.
        static SegmentDto Segment(int index, int attempt, bool audio, bool ready)
        {
            return new SegmentDto
            {
                index = index,
                text = "Sentence " + index + ".",
                emotion = "neutral",
                motions = new string[0],
                audio_id = audio ? "a" + attempt + "-" + index : null,
                audio_url = audio ? "/v1/audio/a" + attempt + "-" + index : null,
                audio_format = audio ? "wav" : null,
                animation = ready ? new AnimationTrackDto { schema_version = "1.0", duration_s = 1.0 + index, source = "energy", emotion = "neutral" } : null,
                ready = ready,
            };
        }

        static JobEventDto Queued(int index, int attempt = 1)
        {
            return Event(JobEventType.SegmentQueued, attempt, Segment(index, attempt, false, false));
        }

        static JobEventDto AudioReady(int index, int attempt = 1)
        {
            return Event(JobEventType.SegmentAudioReady, attempt, Segment(index, attempt, true, false));
        }

        static JobEventDto AnimationReady(int index, int attempt = 1)
        {
            return Event(JobEventType.SegmentAnimationReady, attempt, Segment(index, attempt, true, true));
        }

        static JobEventDto LlmStarted(int attempt)
        {
            return Event(JobEventType.StageStarted, attempt, stage: "llm");
        }

        static List<SegmentDownload> Downloads(TurnState<string> turn)
        {
            var downloads = new List<SegmentDownload>();
            SegmentDownload download;
            while (turn.TryNextDownload(out download)) downloads.Add(download);
            return downloads;
        }

        static List<PlayableSegment<string>> Playables(TurnState<string> turn)
        {
            var playables = new List<PlayableSegment<string>>();
            PlayableSegment<string> playable;
            while (turn.TryNextPlayable(out playable)) playables.Add(playable);
            return playables;
        }

        /// <summary>Every offered download completes at once, with its URL as the audio.</summary>
        static List<int> DownloadAll(TurnState<string> turn)
        {
            var indices = new List<int>();
            foreach (SegmentDownload download in Downloads(turn))
            {
                Assert.IsTrue(turn.AudioArrived(download, download.Url));
                indices.Add(download.Index);
            }
            return indices;
        }

        [Test]
        public void InOrderEachSegmentIsDownloadedAtAudioReadyAndPlayableWithItsTrack()
        {
            var turn = new TurnState<string>(Job);
            Assert.IsTrue(turn.Apply(Event(JobEventType.JobQueued)));
            Assert.AreEqual(JobDto.Queued, turn.Status);
            turn.Apply(LlmStarted(1));
            turn.Apply(Queued(0));
            CollectionAssert.IsEmpty(Downloads(turn), "no audio yet");

            turn.Apply(AudioReady(0));
            List<SegmentDownload> first = Downloads(turn);
            Assert.AreEqual(1, first.Count);
            Assert.AreEqual(0, first[0].Index);
            Assert.AreEqual("/v1/audio/a1-0", first[0].Url);
            CollectionAssert.IsEmpty(Downloads(turn), "each download is offered once");
            Assert.IsTrue(turn.AudioArrived(first[0], "wav0"));
            CollectionAssert.IsEmpty(Playables(turn), "the track has not arrived");

            turn.Apply(AnimationReady(0));
            List<PlayableSegment<string>> playable = Playables(turn);
            Assert.AreEqual(1, playable.Count);
            Assert.AreEqual("wav0", playable[0].Audio);
            Assert.AreEqual(1.0, playable[0].Track.DurationS, 1e-12);
            CollectionAssert.IsEmpty(Downloads(turn), "already downloaded");

            turn.Apply(Queued(1));
            turn.Apply(AudioReady(1));
            CollectionAssert.AreEqual(new[] { 1 }, DownloadAll(turn));
            turn.Apply(AnimationReady(1));
            turn.Apply(Event(JobEventType.StageFinished, stage: "llm", total: 2));
            Assert.AreEqual(2, turn.TotalSegments);
            Assert.IsFalse(turn.IsOver, "not completed yet");
            turn.Apply(Event(JobEventType.JobCompleted, total: 2));
            Assert.IsFalse(turn.IsComplete, "segment 1 has not been handed out");

            CollectionAssert.AreEqual(new[] { 1 }, Playables(turn).ConvertAll(p => p.Index));
            Assert.IsTrue(turn.IsComplete);
            Assert.IsTrue(turn.IsOver);
            Assert.IsTrue(turn.KnowsEverySegment);
            Assert.AreEqual(2, turn.PlayableCount);
            Assert.AreEqual(1, turn.Attempt);
            Assert.AreEqual("session1", turn.SessionId);
        }

        [Test]
        public void InterleavedSegmentsAreFetchedAndHandedOutAsTheyBecomeReady()
        {
            var turn = new TurnState<string>(Job);
            turn.Apply(LlmStarted(1));
            turn.Apply(Queued(0));
            turn.Apply(Queued(1));
            turn.Apply(AudioReady(1));
            turn.Apply(Queued(2));
            turn.Apply(AudioReady(0));
            List<SegmentDownload> downloads = Downloads(turn);
            CollectionAssert.AreEqual(new[] { 0, 1 }, downloads.ConvertAll(d => d.Index), "lowest index first");

            turn.Apply(AnimationReady(1));
            turn.AudioArrived(downloads[1], "wav1");
            CollectionAssert.AreEqual(new[] { 1 }, Playables(turn).ConvertAll(p => p.Index), "the player orders them");
            Assert.AreEqual(0, turn.PlayableCount, "segment 0 is still missing");

            // A track may come first when the audio event was missed: its audio URL is there too.
            turn.Apply(AnimationReady(2));
            CollectionAssert.AreEqual(new[] { 2 }, DownloadAll(turn));
            CollectionAssert.AreEqual(new[] { 2 }, Playables(turn).ConvertAll(p => p.Index));
            turn.AudioArrived(downloads[0], "wav0");
            CollectionAssert.IsEmpty(Playables(turn), "segment 0 has no track yet");
            turn.Apply(AnimationReady(0));
            CollectionAssert.AreEqual(new[] { 0 }, Playables(turn).ConvertAll(p => p.Index));
            Assert.AreEqual(3, turn.PlayableCount);
        }

        [Test]
        public void DuplicatedEventsChangeNothing()
        {
            var events = new List<JobEventDto>
            {
                Event(JobEventType.JobQueued), LlmStarted(1), Queued(0), AudioReady(0), AnimationReady(0),
                Queued(1), AudioReady(1), AnimationReady(1), Event(JobEventType.StageFinished, stage: "llm", total: 2),
                Event(JobEventType.JobCompleted, total: 2),
            };
            var turn = new TurnState<string>(Job);
            var downloads = new List<int>();
            var playables = new List<int>();
            foreach (JobEventDto e in events)
            {
                Assert.IsTrue(turn.Apply(e), e.type);
                Assert.IsFalse(turn.Apply(e), "again: " + e.type);
                downloads.AddRange(DownloadAll(turn));
                playables.AddRange(Playables(turn).ConvertAll(p => p.Index));
                Assert.IsFalse(turn.Apply(e), "after its work: " + e.type);
                CollectionAssert.IsEmpty(Downloads(turn));
            }
            CollectionAssert.AreEqual(new[] { 0, 1 }, downloads);
            CollectionAssert.AreEqual(new[] { 0, 1 }, playables);
            Assert.IsTrue(turn.IsComplete);
        }

        [Test]
        public void ANewAttemptForgetsTheOlderAttemptsSegments()
        {
            var turn = new TurnState<string>(Job);
            turn.Apply(LlmStarted(1));
            turn.Apply(AnimationReady(0));
            DownloadAll(turn);
            Assert.AreEqual(1, Playables(turn).Count);
            turn.Apply(AudioReady(1));
            SegmentDownload stale = Downloads(turn)[0];
            Assert.IsFalse(turn.TakeRestart());

            Assert.IsTrue(turn.Apply(LlmStarted(2)));
            Assert.AreEqual(2, turn.Attempt);
            Assert.IsTrue(turn.TakeRestart(), "segment 0 of attempt 1 was handed out: the player must drop it");
            Assert.IsFalse(turn.TakeRestart(), "reported once");
            Assert.IsFalse(turn.AudioArrived(stale, "old wav1"), "a download of the forgotten attempt");
            CollectionAssert.IsEmpty(Downloads(turn));
            CollectionAssert.IsEmpty(Playables(turn));
            Assert.AreEqual(0, turn.PlayableCount);
            Assert.IsFalse(turn.Apply(AnimationReady(1, attempt: 1)), "a straggler of attempt 1");

            turn.Apply(AudioReady(0, attempt: 2));
            turn.Apply(AnimationReady(0, attempt: 2));
            List<SegmentDownload> fresh = Downloads(turn);
            Assert.AreEqual("/v1/audio/a2-0", fresh[0].Url);
            turn.AudioArrived(fresh[0], fresh[0].Url);
            turn.Apply(Event(JobEventType.JobCompleted, total: 1));
            CollectionAssert.AreEqual(new[] { "/v1/audio/a2-0" }, Playables(turn).ConvertAll(p => p.Audio));
            Assert.IsTrue(turn.IsComplete);
        }

        [Test]
        public void ARestartBeforeAnythingWasHandedOutNeedsNoRestartOfThePlayer()
        {
            var turn = new TurnState<string>(Job);
            turn.Apply(LlmStarted(1));
            turn.Apply(AnimationReady(0));
            DownloadAll(turn);
            turn.Apply(LlmStarted(2));
            Assert.IsFalse(turn.TakeRestart());
            CollectionAssert.IsEmpty(Playables(turn), "segment 0 of attempt 1 was forgotten with its audio");
        }

        [Test]
        public void AFailedJobEndsTheTurnWithWhatWasHandedOut()
        {
            var turn = new TurnState<string>(Job);
            turn.Apply(LlmStarted(1));
            turn.Apply(AnimationReady(0));
            DownloadAll(turn);
            Playables(turn);
            turn.Apply(AudioReady(1));

            var failed = Event(JobEventType.JobFailed);
            failed.error = new JobErrorDto { code = "tts_failed", message = "the voice is gone", stage = "tts" };
            Assert.IsTrue(turn.Apply(failed));

            Assert.IsTrue(turn.IsOver);
            Assert.IsFalse(turn.IsComplete);
            Assert.AreEqual(JobDto.Failed, turn.Status);
            Assert.AreEqual("tts_failed", turn.Error.code);
            Assert.AreEqual(1, turn.PlayableCount);
            CollectionAssert.IsEmpty(Downloads(turn), "nothing more is fetched for a failed job");
            Assert.IsFalse(turn.Apply(AnimationReady(1)), "nothing comes after the end");
            Assert.AreEqual("tts_failed", turn.Summary().error.code);
        }

        [Test]
        public void AFailedDownloadIsOfferedAgain()
        {
            var turn = new TurnState<string>(Job);
            turn.Apply(AudioReady(0));
            SegmentDownload download = Downloads(turn)[0];
            turn.AudioFailed(download);
            List<SegmentDownload> again = Downloads(turn);
            Assert.AreEqual(1, again.Count);
            Assert.AreEqual(0, again[0].Index);
            Assert.IsTrue(turn.AudioArrived(again[0], "wav"));
            Assert.IsFalse(turn.AudioArrived(download, "wav twice"));
        }

        [Test]
        public void OtherJobsEventsAndSegmentsBeyondTheTotalAreIgnored()
        {
            var turn = new TurnState<string>(Job);
            turn.Apply(Event(JobEventType.StageFinished, attempt: 1, stage: "llm", total: 1));
            JobEventDto other = AudioReady(0);
            other.job_id = "job2";
            Assert.IsFalse(turn.Apply(other));
            Assert.IsFalse(turn.Apply(AudioReady(1)));
            Assert.IsFalse(turn.Apply((JobEventDto)null));
            CollectionAssert.IsEmpty(Downloads(turn));
        }

        static JobDto View(string status, string version, params SegmentDto[] segments)
        {
            return new JobDto { id = Job, session_id = "session1", status = status, persona = "hana", segments = segments, version = version };
        }

        [Test]
        public void PolledViewsDriveTheSameTurn()
        {
            var turn = new TurnState<string>(Job);
            Assert.IsTrue(turn.Apply(View(JobDto.Running, "5-0", Segment(0, 1, true, true), Segment(1, 1, false, false))));
            Assert.AreEqual("5-0", turn.Version);
            Assert.AreEqual(JobDto.Running, turn.Status);
            CollectionAssert.AreEqual(new[] { 0 }, DownloadAll(turn));
            CollectionAssert.AreEqual(new[] { 0 }, Playables(turn).ConvertAll(p => p.Index));
            Assert.IsFalse(turn.Apply(View(JobDto.Running, "5-0", Segment(0, 1, true, true), Segment(1, 1, false, false))));

            turn.Apply(View(JobDto.Running, "6-0", Segment(0, 1, true, true), Segment(1, 1, true, false)));
            CollectionAssert.AreEqual(new[] { 1 }, DownloadAll(turn), "audio first, as with events");
            turn.Apply(View(JobDto.Completed, "7-0", Segment(0, 1, true, true), Segment(1, 1, true, true)));
            Assert.AreEqual(2, turn.TotalSegments, "a completed view lists every segment");
            CollectionAssert.AreEqual(new[] { 1 }, Playables(turn).ConvertAll(p => p.Index));
            Assert.IsTrue(turn.IsComplete);
            Assert.AreEqual("hana", turn.Summary().persona);
        }

        [Test]
        public void AViewWhoseSegmentLostOrChangedItsAudioIsANewAttempt()
        {
            var turn = new TurnState<string>(Job);
            turn.Apply(View(JobDto.Running, "1-0", Segment(0, 1, true, true)));
            DownloadAll(turn);
            Playables(turn);

            turn.Apply(View(JobDto.Running, "2-0")); // the restarted reply has no segment yet
            Assert.IsTrue(turn.TakeRestart());
            turn.Apply(View(JobDto.Running, "3-0", Segment(0, 2, true, true)));
            Assert.IsFalse(turn.TakeRestart(), "same attempt as the view before");
            CollectionAssert.AreEqual(new[] { 0 }, DownloadAll(turn));

            turn.Apply(View(JobDto.Running, "4-0", Segment(0, 3, true, true)));
            Assert.IsFalse(turn.TakeRestart(), "nothing of attempt 2 was handed out");
            List<SegmentDownload> third = Downloads(turn);
            Assert.AreEqual("/v1/audio/a3-0", third[0].Url);
        }

        [Test]
        public void AStreamEndingWithoutItsSegmentsLeavesThemToAPoll()
        {
            // The server rebuilds just the ending when a finished job's event log has expired.
            var turn = new TurnState<string>(Job);
            turn.Apply(Event(JobEventType.JobCompleted, total: 2));
            Assert.AreEqual(JobDto.Completed, turn.Status);
            Assert.IsFalse(turn.KnowsEverySegment);
            Assert.IsFalse(turn.IsOver);

            turn.Apply(View(JobDto.Completed, "9-0", Segment(0, 1, true, true), Segment(1, 1, true, true)));
            Assert.IsTrue(turn.KnowsEverySegment);
            CollectionAssert.AreEqual(new[] { 0, 1 }, DownloadAll(turn));
            Assert.AreEqual(2, Playables(turn).Count);
            Assert.IsTrue(turn.IsOver);
        }
    }
}
