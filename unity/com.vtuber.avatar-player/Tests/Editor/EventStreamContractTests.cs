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
    /// A job followed the two ways JobClient follows one, on what the backend itself wrote: its SSE byte
    /// stream (real JobEvent JSON; a restarted reply, interleaved segments, pings) and its polled job views.
    /// </summary>
    [TestFixture]
    public class EventStreamContractTests
    {
        [Serializable]
        public sealed class ExpectedStream
        {
            public int messages;
            public string last_event_id;
            public int retry_ms;
            public string stale_audio_url;
            public string[] audio_urls;
            public string[] texts;
            public string[] motions;
        }

        static List<SseMessage> ParseInChunks(byte[] stream, int chunk, SseParser parser)
        {
            var messages = new List<SseMessage>();
            for (int offset = 0; offset < stream.Length; offset += chunk)
                parser.Feed(stream, offset, Math.Min(chunk, stream.Length - offset), messages);
            return messages;
        }

        /// <summary>Plays the queue on a simulated 60 fps clock; the audio (payload) of each segment as it is first heard.</summary>
        static List<string> PlayThrough(SegmentQueue<string> queue, List<MotionCue> fired)
        {
            var heard = new List<string>();
            double clock = 0.0;
            while (clock < 120.0 && queue.Locate(clock).State != PlaybackState.Finished)
            {
                while (queue.ScheduleNext(clock, 0.1) != null) { }
                PlaybackPosition<string> position = queue.Advance(clock, fired);
                if (position.State == PlaybackState.Playing && !heard.Contains(position.Segment.Payload))
                    heard.Add(position.Segment.Payload);
                clock += 1.0 / 60.0;
            }
            Assert.AreEqual(PlaybackState.Finished, queue.Locate(clock).State, "the turn never finished playing");
            return heard;
        }

        /// <summary>Hands every playable segment to the queue, as JobClient hands them to the player.</summary>
        static void HandOver(TurnState<string> turn, SegmentQueue<string> queue)
        {
            PlayableSegment<string> playable;
            while (turn.TryNextPlayable(out playable))
            {
                Assert.IsNotNull(playable.Track, "segment " + playable.Index + " has no track");
                CollectionAssert.IsEmpty(TrackValidator.Problems(playable.Track), "segment " + playable.Index);
                Assert.IsTrue(queue.Add(playable.Index, playable.Track.DurationS, playable.Track, playable.Audio), "segment " + playable.Index);
            }
        }

        [Test]
        public void AnEventStreamFromTheBackendPlaysEverySegmentInOrder()
        {
            PlaysEverySegmentInOrder(ContractFixtures.Parse<JobEventDto>);
        }

        /// <summary>The same stream as JsonUtility reads it: absent segment, error, reply, transcript filled in.</summary>
        [Test]
        public void AnEventStreamParsedTheJsonUtilityWayPlaysTheSame()
        {
            PlaysEverySegmentInOrder(UnityJson.Parse<JobEventDto>);
        }

        static void PlaysEverySegmentInOrder(Func<string, JobEventDto> parse)
        {
            byte[] stream = File.ReadAllBytes(ContractFixtures.Path("job-events.sse"));
            var expected = ContractFixtures.Parse<ExpectedStream>(File.ReadAllText(ContractFixtures.Path("job-events-outcome.json")));

            var parser = new SseParser();
            List<SseMessage> messages = ParseInChunks(stream, stream.Length, parser);
            Assert.AreEqual(expected.messages, messages.Count);
            Assert.AreEqual(expected.last_event_id, parser.LastEventId);
            Assert.AreEqual(expected.retry_ms, parser.RetryMs);
            foreach (int chunk in new[] { 1, 2, 3, 7, 64, 1000 }) // splits lines, CR LF pairs and UTF-8 characters
            {
                List<SseMessage> chunked = ParseInChunks(stream, chunk, new SseParser());
                Assert.AreEqual(messages.Count, chunked.Count, "chunks of " + chunk);
                for (int i = 0; i < messages.Count; i++)
                {
                    Assert.AreEqual(messages[i].Data, chunked[i].Data, "chunks of " + chunk + ", message " + i);
                    Assert.AreEqual(messages[i].Id, chunked[i].Id, "chunks of " + chunk + ", message " + i);
                }
            }

            var turn = new TurnState<string>("job1");
            var queue = new SegmentQueue<string>();
            var requested = new List<string>();
            var inFlight = new List<SegmentDownload>();
            foreach (SseMessage message in messages)
            {
                JobEventDto e = parse(message.Data);
                Assert.AreEqual(message.Event, e.type, message.Id);
                bool changed = turn.Apply(e);
                if (e.type.StartsWith("segment.")) Assert.IsTrue(changed, message.Id + " " + e.type + " changed nothing");
                // Downloads finish one event late and newest first: arrival order must not matter.
                for (int i = inFlight.Count - 1; i >= 0; i--) turn.AudioArrived(inFlight[i], inFlight[i].Url);
                inFlight.Clear();
                SegmentDownload download;
                while (turn.TryNextDownload(out download))
                {
                    requested.Add(download.Url);
                    inFlight.Add(download);
                }
                if (turn.TakeRestart()) queue = new SegmentQueue<string>();
                HandOver(turn, queue);
            }
            foreach (SegmentDownload download in inFlight) turn.AudioArrived(download, download.Url);
            HandOver(turn, queue);

            Assert.IsTrue(turn.IsComplete, "every segment should be playable once the stream has ended");
            Assert.AreEqual(expected.audio_urls.Length, turn.TotalSegments);
            Assert.AreEqual(expected.audio_urls.Length, turn.PlayableCount);
            Assert.AreEqual(2, turn.Attempt);
            Assert.Contains(expected.stale_audio_url, requested, "the first attempt's audio was announced and fetched");
            requested.Remove(expected.stale_audio_url);
            CollectionAssert.AreEquivalent(expected.audio_urls, requested, "each segment's audio downloaded once");

            JobDto summary = turn.Summary();
            Assert.AreEqual(JobDto.Completed, summary.status);
            string reason;
            Assert.IsFalse(summary.TryGetFailure(out reason), reason);
            CollectionAssert.AreEqual(expected.texts, Array.ConvertAll(summary.segments, s => s.text), "UTF-8 text intact");

            queue.Complete(turn.PlayableCount);
            var fired = new List<MotionCue>();
            CollectionAssert.AreEqual(expected.audio_urls, PlayThrough(queue, fired), "segments play in index order");
            CollectionAssert.AreEqual(expected.motions, fired.ConvertAll(cue => cue.Name), "every motion tag fired once, in order");
        }

        [Test]
        public void PolledJobViewsFromTheApiFoldIntoTheSameTurn()
        {
            FoldPolledViews(ContractFixtures.Parse<JobDto>);
        }

        /// <summary>The views as JsonUtility reads them: the completed job's null error is an empty object, not a failure.</summary>
        [Test]
        public void PolledJobViewsParsedTheJsonUtilityWayFoldTheSame()
        {
            FoldPolledViews(UnityJson.Parse<JobDto>);
        }

        static void FoldPolledViews(Func<string, JobDto> parse)
        {
            JobDto running = parse(File.ReadAllText(ContractFixtures.Path("job-running.json")));
            JobDto completed = parse(File.ReadAllText(ContractFixtures.Path("job-completed.json")));
            string reason;
            Assert.IsFalse(completed.TryGetFailure(out reason), reason);

            var turn = new TurnState<string>(completed.id);
            var queue = new SegmentQueue<string>();
            var requested = new List<string>();
            foreach (JobDto view in new[] { running, running, completed })
            {
                turn.Apply(view);
                SegmentDownload download;
                while (turn.TryNextDownload(out download))
                {
                    requested.Add(download.Url);
                    Assert.IsTrue(turn.AudioArrived(download, download.Url));
                }
                Assert.IsFalse(turn.TakeRestart(), "the views are one attempt");
                HandOver(turn, queue);
            }

            var urls = Array.ConvertAll(completed.segments, s => s.audio_url);
            CollectionAssert.AreEqual(urls, requested, "each segment's audio downloaded once, in index order");
            Assert.IsTrue(turn.IsComplete);
            queue.Complete(turn.PlayableCount);
            CollectionAssert.AreEqual(urls, PlayThrough(queue, new List<MotionCue>()));
            Assert.IsFalse(turn.Summary().TryGetFailure(out reason), reason);
        }
    }
}
