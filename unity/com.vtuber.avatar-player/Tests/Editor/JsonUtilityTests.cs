using NUnit.Framework;
using VTuber.Animation.Wire;

namespace VTuber.Animation.Tests
{
    /// <summary>
    /// Unity's JsonUtility never leaves a nested object null: a job that succeeded still has an <c>error</c>, a frame
    /// without <c>data</c> still has one. Code that tests <c>!= null</c> on a parsed DTO is wrong in Unity while
    /// passing under a strict parser; these read what JsonUtility gives (<see cref="UnityJson"/>).
    /// </summary>
    [TestFixture]
    public class JsonUtilityTests
    {
        const string CompletedJob =
            "{\"id\":\"job1\",\"session_id\":\"s1\",\"status\":\"completed\",\"stage\":null,\"persona\":\"default\",\"segments\":[],\"error\":null}";

        static JobDto Job(string status, string error)
        {
            return UnityJson.Parse<JobDto>(
                "{\"id\":\"job1\",\"session_id\":\"s1\",\"status\":\"" + status + "\",\"stage\":null,\"persona\":\"default\",\"segments\":null,\"error\":" + error + "}");
        }

        [Test]
        public void NestedObjectsTheJsonLeavesOutOrSendsAsNullAreFilledIn()
        {
            JobDto job = UnityJson.Parse<JobDto>(CompletedJob);
            Assert.IsNotNull(job.error, "JsonUtility's way: an empty error object, the trap of `job.error != null`");
            Assert.IsTrue(string.IsNullOrEmpty(job.error.code));

            JobEventDto e = UnityJson.Parse<JobEventDto>("{\"type\":\"job.queued\",\"job_id\":\"job1\",\"session_id\":\"s1\",\"at\":\"2026-11-29T05:00:00Z\"}");
            Assert.IsNotNull(e.segment);
            Assert.IsNotNull(e.command);
            Assert.IsNotNull(e.error);
            Assert.IsTrue(string.IsNullOrEmpty(e.command.action), "an empty command: no action to take");
            Assert.IsNull(UnityJson.Parse<JobDto>(""), "FromJson of nothing is null");
        }

        [Test]
        public void AJobFailedOnlyWhenItsStatusSaysSo()
        {
            string reason;
            Assert.IsFalse(UnityJson.Parse<JobDto>(CompletedJob).TryGetFailure(out reason));
            Assert.IsNull(reason);
            Assert.IsFalse(Job(JobDto.Interrupted, "null").TryGetFailure(out reason), "a barge-in is no failure");
            Assert.IsFalse(Job(JobDto.Running, "{\"code\":\"\",\"message\":\"\"}").TryGetFailure(out reason));

            Assert.IsTrue(Job(JobDto.Failed, "{\"code\":\"tts_failed\",\"message\":\"The voice server refused the text\"}").TryGetFailure(out reason));
            Assert.AreEqual("The voice server refused the text", reason);
            Assert.IsTrue(Job(JobDto.Failed, "{\"code\":\"tts_failed\",\"message\":\"\"}").TryGetFailure(out reason));
            Assert.AreEqual("tts_failed", reason, "no message: the code");
            Assert.IsTrue(Job(JobDto.Failed, "null").TryGetFailure(out reason));
            Assert.AreEqual("no reason given", reason);
        }

        [Test]
        public void AFailedEventWithoutAnErrorFailsTheTurnWithoutAnError()
        {
            var turn = new TurnState<string>("job1");
            Assert.IsTrue(turn.Apply(UnityJson.Parse<JobEventDto>("{\"type\":\"job.failed\",\"job_id\":\"job1\",\"session_id\":\"s1\",\"at\":\"x\"}")));
            Assert.IsNull(turn.Error, "an empty error object is no error");
            string reason;
            Assert.IsTrue(turn.Summary().TryGetFailure(out reason));
        }

        [Test]
        public void AChannelFrameWithoutDataIsMalformedAndDoesNotMoveTheResumeId()
        {
            var channel = new SessionChannel("http://localhost:8000", "s1", "k", UnityJson.Parse<SessionFrameDto>, new ReconnectBackoff(0.5, 4.0, 0.0));
            SessionFrameDto frame;
            Assert.AreEqual(FrameKind.Malformed, channel.Receive("{\"id\":\"5-0\",\"event\":\"job.queued\"}", out frame));
            Assert.AreEqual(FrameKind.Malformed, channel.Receive("{\"id\":\"5-1\",\"event\":\"job.queued\",\"data\":null}", out frame));
            Assert.AreEqual("", channel.ResumeId);
            Assert.AreEqual(FrameKind.Ping, channel.Receive("{\"event\":\"ping\"}", out frame), "a ping has no data, and needs none");
            Assert.AreEqual(FrameKind.Event, channel.Receive(
                "{\"id\":\"5-2\",\"event\":\"job.queued\",\"data\":{\"type\":\"job.queued\",\"job_id\":\"j\",\"session_id\":\"s1\",\"at\":\"x\"}}", out frame));
            Assert.AreEqual("5-2", channel.ResumeId);
        }

        [Test]
        public void ACommandEventWithoutACommandDoesNothing()
        {
            var stage = new SessionRecorder();
            var player = new SessionPlayer<string>(stage, stage);
            Assert.IsFalse(player.Apply(UnityJson.Parse<JobEventDto>("{\"type\":\"avatar.command\",\"job_id\":\"cmd\",\"session_id\":\"s1\",\"at\":\"x\"}")));
            CollectionAssert.IsEmpty(stage.Log);
        }

        [Test]
        public void ASegmentWithoutATrackPlaysWithARestingFace()
        {
            var turn = new TurnState<string>("job1");
            turn.Apply(UnityJson.Parse<JobEventDto>(
                "{\"type\":\"segment.animation_ready\",\"job_id\":\"job1\",\"session_id\":\"s1\",\"at\":\"x\","
                + "\"segment\":{\"index\":0,\"text\":\"Hi\",\"emotion\":\"happy\",\"motions\":[],\"audio_url\":\"/a0\",\"ready\":true}}"));
            SegmentDownload download;
            Assert.IsTrue(turn.TryNextDownload(out download));
            turn.AudioArrived(download, "a0");
            PlayableSegment<string> playable;
            Assert.IsTrue(turn.TryNextPlayable(out playable));
            Assert.IsNull(playable.Track, "an empty animation object is no track");
        }
    }
}
