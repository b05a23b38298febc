using System;
using NUnit.Framework;
using VTuber.Animation.Wire;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class SessionChannelTests
    {
        static SessionChannel Channel(string baseUrl = "http://localhost:8000", string key = "vt_key/+=")
        {
            // No jitter: the delays are exact.
            return new SessionChannel(baseUrl, "s 1", key, ContractFixtures.Parse<SessionFrameDto>, new ReconnectBackoff(0.5, 4.0, 0.0));
        }

        static string EventFrame(string id, string type, string job = "job1")
        {
            return "{\"id\":\"" + id + "\",\"event\":\"" + type + "\",\"data\":{\"type\":\"" + type + "\",\"job_id\":\"" + job
                + "\",\"session_id\":\"s 1\",\"at\":\"2026-11-29T05:00:00Z\"}}";
        }

        [Test]
        public void TheUrlIsTheSessionsWebSocketWithTheKeyAndNoResumeIdAtFirst()
        {
            Assert.AreEqual("ws://localhost:8000/v1/sessions/s%201/ws?access_token=vt_key%2F%2B%3D", Channel().ConnectUrl());
            Assert.AreEqual("wss://api.example.com/vtuber/v1/sessions/s%201/ws", Channel("https://api.example.com/vtuber/", "").ConnectUrl());
            Assert.AreEqual("ws://10.0.0.2:9000/v1/sessions/s%201/ws?access_token=k", Channel("ws://10.0.0.2:9000", "k").ConnectUrl());
        }

        [Test]
        public void EachNewEventMovesTheResumeIdWhichTheNextConnectionSendsAsAfter()
        {
            SessionChannel channel = Channel();
            SessionFrameDto frame;
            Assert.AreEqual(FrameKind.Event, channel.Receive(EventFrame("1732834323123-0", JobEventType.JobQueued), out frame));
            Assert.AreEqual(JobEventType.JobQueued, frame.data.type);
            Assert.AreEqual("job1", frame.data.job_id);
            Assert.AreEqual(FrameKind.Event, channel.Receive(EventFrame("1732834323123-1", JobEventType.StageStarted), out frame));
            Assert.AreEqual("1732834323123-1", channel.ResumeId);

            double delay;
            Assert.AreEqual(CloseVerdict.Reconnect, channel.Closed(1006, out delay));
            StringAssert.EndsWith("?access_token=vt_key%2F%2B%3D&after=1732834323123-1", channel.ConnectUrl());
        }

        [Test]
        public void EventsAtOrBeforeTheNewestIdAreDuplicatesComparedAsNumbers()
        {
            SessionChannel channel = Channel();
            SessionFrameDto frame;
            Assert.AreEqual(FrameKind.Event, channel.Receive(EventFrame("9-5", JobEventType.JobQueued), out frame));
            Assert.AreEqual(FrameKind.Duplicate, channel.Receive(EventFrame("9-5", JobEventType.JobQueued), out frame));
            Assert.IsNull(frame);
            Assert.AreEqual(FrameKind.Duplicate, channel.Receive(EventFrame("9-4", JobEventType.JobQueued), out frame));
            Assert.AreEqual(FrameKind.Event, channel.Receive(EventFrame("10-0", JobEventType.StageStarted), out frame), "10 > 9, though \"10\" < \"9\" as text");
            Assert.AreEqual(FrameKind.Duplicate, channel.Receive(EventFrame("9-6", JobEventType.StageStarted), out frame));
            Assert.AreEqual("10-0", channel.ResumeId);
            Assert.AreEqual(3, channel.DuplicateCount);
        }

        [Test]
        public void PingsAndBrokenFramesLeaveTheResumeIdAlone()
        {
            SessionChannel channel = Channel();
            SessionFrameDto frame;
            channel.Receive(EventFrame("5-0", JobEventType.JobQueued), out frame);
            Assert.AreEqual(FrameKind.Ping, channel.Receive("{\"event\":\"ping\"}", out frame));
            Assert.AreEqual(FrameKind.Malformed, channel.Receive("not json", out frame));
            Assert.AreEqual(FrameKind.Malformed, channel.Receive("{\"id\":\"6-0\"}", out frame), "no event type");
            Assert.AreEqual(FrameKind.Malformed, channel.Receive("{\"id\":\"6-0\",\"event\":\"job.queued\"}", out frame), "no data");
            Assert.AreEqual(FrameKind.Malformed, channel.Receive("", out frame));
            Assert.AreEqual("5-0", channel.ResumeId);
            Assert.AreEqual(4, channel.MalformedCount);
        }

        [Test]
        public void AnUnknownEventTypeIsStillAnEventAndMovesTheResumeId()
        {
            SessionChannel channel = Channel();
            SessionFrameDto frame;
            Assert.AreEqual(FrameKind.Event, channel.Receive(EventFrame("7-0", "viewer.cheered"), out frame));
            Assert.AreEqual("7-0", channel.ResumeId, "so a reconnect does not ask for it again");
        }

        [Test]
        public void FailedAttemptsBackOffUntilAFrameShowsTheConnectionWorks()
        {
            SessionChannel channel = Channel();
            double delay;
            var delays = new double[5];
            for (int i = 0; i < delays.Length; i++)
            {
                channel.Opened();
                Assert.AreEqual(CloseVerdict.Reconnect, channel.Closed(1006, out delay));
                delays[i] = delay;
            }
            CollectionAssert.AreEqual(new[] { 0.5, 1.0, 2.0, 4.0, 4.0 }, delays);

            channel.Opened();
            SessionFrameDto frame;
            channel.Receive("{\"event\":\"ping\"}", out frame);
            Assert.IsTrue(channel.HeardSinceOpened);
            channel.Closed(1001, out delay);
            Assert.AreEqual(0.5, delay, "a connection that worked starts the backoff over");
        }

        [Test]
        public void JitterOnlyShortensTheDelay()
        {
            var backoff = new ReconnectBackoff(1.0, 8.0, 0.5, new Random(7));
            for (int i = 0; i < 6; i++)
            {
                double ceiling = Math.Min(8.0, Math.Pow(2, i));
                double delay = backoff.NextDelayS();
                Assert.That(delay, Is.InRange(ceiling * 0.5, ceiling), "attempt " + i);
            }
        }

        [Test]
        public void ARefusedKeyOrSessionGivesUpAndARefusedResumeIdStartsFresh()
        {
            SessionChannel channel = Channel();
            SessionFrameDto frame;
            channel.Receive(EventFrame("20-0", JobEventType.JobQueued), out frame);
            double delay;
            Assert.AreEqual(CloseVerdict.Reconnect, channel.Closed(SessionChannel.CloseBadResumeId, out delay));
            Assert.AreEqual("", channel.ResumeId);
            StringAssert.DoesNotContain("after=", channel.ConnectUrl());
            Assert.AreEqual(FrameKind.Duplicate, channel.Receive(EventFrame("20-0", JobEventType.JobQueued), out frame), "what came before is still known");
            Assert.IsNull(channel.Problem);

            Assert.AreEqual(CloseVerdict.GiveUp, channel.Closed(SessionChannel.CloseBadKey, out delay));
            StringAssert.Contains("4401", channel.Problem);
            Assert.AreEqual(CloseVerdict.GiveUp, Channel().Closed(SessionChannel.CloseUnknownSession, out delay));
        }

        [Test]
        public void StreamIdsParseOnlyTheirOwnShape()
        {
            StreamId id;
            Assert.IsTrue(StreamId.TryParse("1732834323123-12", out id));
            Assert.AreEqual(1732834323123UL, id.Milliseconds);
            Assert.AreEqual(12UL, id.Sequence);
            Assert.AreEqual("1732834323123-12", id.ToString());
            foreach (string bad in new[] { "", "-", "12", "12-", "-3", "a-1", "1-b", "1--2", "+1-2", " 1-2" })
                Assert.IsFalse(StreamId.TryParse(bad, out id), bad);
        }
    }
}
