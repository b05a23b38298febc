// Fixture shapes written by tests/integration/test_unity_core.py; names are the wire's.
// ReSharper disable InconsistentNaming
using System;
using System.Collections.Generic;
using System.IO;
using NUnit.Framework;
using VTuber.Animation.Wire;

namespace VTuber.Animation.Tests
{
    /// <summary>
    /// A session followed over its WebSocket channel the way the Unity client follows it, on frames the backend
    /// wrote from its own models (JobEvent, AvatarCommand): interleaved turns, manual commands, an interrupted
    /// turn, pings, an unknown event type, and a connection that drops mid-turn.
    /// </summary>
    [TestFixture]
    public class SessionChannelContractTests
    {
        [Serializable]
        public sealed class ExpectedChannel
        {
            public int frames;
            public int events;
            public int pings;
            public string last_id;
            public string resume_id;
            public string[] heard;
            public string[] interrupted_audio;
            public string[] commands;
        }

        sealed class Run
        {
            public readonly SessionRecorder Out = new SessionRecorder();
            public readonly SessionPlayer<string> Player;
            public readonly SessionChannel Channel;
            public readonly Dictionary<FrameKind, int> Kinds = new Dictionary<FrameKind, int>();
            public int Events;

            /// <param name="decode">The strict parser, or JsonUtility's way (<see cref="UnityJson"/>), as the Unity client parses.</param>
            public Run(Func<string, SessionFrameDto> decode = null)
            {
                Player = new SessionPlayer<string>(Out, Out);
                Channel = new SessionChannel("http://localhost:8000", "session1", "vt_test", decode ?? ContractFixtures.Parse<SessionFrameDto>,
                    new ReconnectBackoff(0.5, 30.0, 0.0));
                foreach (FrameKind kind in Enum.GetValues(typeof(FrameKind))) Kinds[kind] = 0;
            }

            /// <summary>One frame in, as SessionClient hands it over on the main thread; downloads finish right after.</summary>
            public void Receive(string line)
            {
                SessionFrameDto frame;
                FrameKind kind = Channel.Receive(line, out frame);
                Kinds[kind]++;
                if (kind != FrameKind.Event) return;
                Events++;
                Player.Apply(frame.data);
                var fetches = new List<SegmentDownload>(Out.Fetches);
                Out.Fetches.Clear();
                foreach (SegmentDownload download in fetches) Player.AudioArrived(download, download.Url);
            }
        }

        static string[] Frames()
        {
            return File.ReadAllLines(ContractFixtures.Path("session-channel.jsonl"));
        }

        static ExpectedChannel Expected()
        {
            return ContractFixtures.Parse<ExpectedChannel>(File.ReadAllText(ContractFixtures.Path("session-channel-outcome.json")));
        }

        /// <summary>Plays the stage's queue on a simulated clock; the audio of each segment as it is first heard, every one with a valid track.</summary>
        static List<string> Heard(SessionRecorder stage, int total)
        {
            stage.Queue.Complete(total);
            var heard = new List<string>();
            double clock = 0.0;
            while (clock < 60.0 && stage.Queue.Locate(clock).State != PlaybackState.Finished)
            {
                while (stage.Queue.ScheduleNext(clock, 0.1) != null) { }
                PlaybackPosition<string> position = stage.Queue.Advance(clock, null);
                if (position.State == PlaybackState.Playing && !heard.Contains(position.Segment.Payload))
                {
                    Assert.IsNotNull(position.Segment.Track, position.Segment.Payload + " plays without its track");
                    CollectionAssert.IsEmpty(TrackValidator.Problems(position.Segment.Track), position.Segment.Payload);
                    heard.Add(position.Segment.Payload);
                }
                clock += 1.0 / 60.0;
            }
            Assert.AreEqual(PlaybackState.Finished, stage.Queue.Locate(clock).State, "the session never finished playing");
            return heard;
        }

        static List<string> Commands(List<string> log)
        {
            return log.FindAll(line => !(line.StartsWith("fetch ") || line.StartsWith("play ") || line.StartsWith("track ") || line.StartsWith("drop ")));
        }

        [Test]
        public void ASessionChannelFromTheBackendPlaysEveryTurnAndCommandInOrder()
        {
            PlaysEveryTurnAndCommandInOrder(ContractFixtures.Parse<SessionFrameDto>);
        }

        /// <summary>The same frames as JsonUtility reads them: every absent nested object (data, command, segment, animation) filled in.</summary>
        [Test]
        public void ASessionChannelParsedTheJsonUtilityWayPlaysTheSame()
        {
            PlaysEveryTurnAndCommandInOrder(UnityJson.Parse<SessionFrameDto>);
        }

        static void PlaysEveryTurnAndCommandInOrder(Func<string, SessionFrameDto> decode)
        {
            string[] frames = Frames();
            ExpectedChannel expected = Expected();
            Assert.AreEqual(expected.frames, frames.Length);

            var run = new Run(decode);
            foreach (string line in frames) run.Receive(line);

            Assert.AreEqual(expected.events, run.Kinds[FrameKind.Event]);
            Assert.AreEqual(expected.pings, run.Kinds[FrameKind.Ping]);
            Assert.AreEqual(0, run.Kinds[FrameKind.Malformed], "every frame of the backend parses");
            Assert.AreEqual(0, run.Kinds[FrameKind.Duplicate]);
            Assert.AreEqual(expected.last_id, run.Channel.ResumeId);
            StringAssert.EndsWith("?access_token=vt_test&after=" + expected.last_id, run.Channel.ConnectUrl());

            List<string> log = run.Out.Log;
            CollectionAssert.AreEqual(expected.commands, Commands(log), "each command once, in order, the absent fade_s as the default");
            Assert.Contains("track 0", log, "turn A's first segment played before its track came");
            foreach (string url in expected.interrupted_audio) Assert.Contains(url, run.Out.Played, "turn C had begun");
            Assert.Contains("drop from 3", log, "C's segments (sequences 3 and 4) were queued after A's two and B's one");
            Assert.AreEqual(0, run.Player.OpenTurns, "every turn is over");

            CollectionAssert.AreEqual(expected.heard, Heard(run.Out, run.Player.NextSequence), "A, then B, then D: C was cut off");
        }

        [Test]
        public void AReconnectWithTheLastIdMissesNothingAndRepeatsNothing()
        {
            string[] frames = Frames();
            ExpectedChannel expected = Expected();
            var straight = new Run();
            foreach (string line in frames) straight.Receive(line);

            var broken = new Run();
            int next = 0;
            broken.Channel.Opened();
            while (broken.Channel.ResumeId != expected.resume_id) broken.Receive(frames[next++]);
            double delay;
            Assert.AreEqual(CloseVerdict.Reconnect, broken.Channel.Closed(1006, out delay));
            Assert.AreEqual(0.5, delay);
            StringAssert.EndsWith("&after=" + expected.resume_id, broken.Channel.ConnectUrl(), "the next connection resumes after the last event");

            // The new connection repeats a few frames (as a fresh start would with the turn in progress): dropped.
            broken.Channel.Opened();
            const int Repeated = 5;
            int repeatedEvents = 0;
            for (int i = next - Repeated; i < next; i++) repeatedEvents += frames[i].Contains("\"id\"") ? 1 : 0;
            for (int i = next - Repeated; i < frames.Length; i++) broken.Receive(frames[i]);

            Assert.AreEqual(repeatedEvents, broken.Kinds[FrameKind.Duplicate]);
            Assert.AreEqual(expected.events, broken.Events, "every event handed over exactly once");
            CollectionAssert.AreEqual(straight.Out.Log, broken.Out.Log, "the same fetches, plays, drops and commands");
            CollectionAssert.AreEqual(expected.heard, Heard(broken.Out, broken.Player.NextSequence));
        }
    }
}
