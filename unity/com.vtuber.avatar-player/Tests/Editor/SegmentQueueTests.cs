using System.Collections.Generic;
using NUnit.Framework;
using VTuber.Animation;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class SegmentQueueTests
    {
        const double Lead = 0.1;

        static List<int> ScheduleAll(SegmentQueue<string> queue, double clock)
        {
            var order = new List<int>();
            QueuedSegment<string> next;
            while ((next = queue.ScheduleNext(clock, Lead)) != null) order.Add(next.Index);
            return order;
        }

        [Test]
        public void SegmentsPlayInIndexOrderWhateverOrderTheyArrive()
        {
            var queue = new SegmentQueue<string>(voices: 3);
            Assert.IsTrue(queue.Add(2, 1.0, null, "c"));
            Assert.IsNull(queue.ScheduleNext(0.0, Lead), "segment 0 has not arrived");
            Assert.IsTrue(queue.Add(1, 1.0, null, "b"));
            Assert.IsTrue(queue.Add(0, 1.0, null, "a"));

            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, ScheduleAll(queue, 0.0));
        }

        [Test]
        public void DuplicatesAndSegmentsAlreadyPassedAreRefused()
        {
            var queue = new SegmentQueue<string>();
            Assert.IsTrue(queue.Add(0, 1.0, null, "a"));
            Assert.IsFalse(queue.Add(0, 1.0, null, "again"));
            queue.ScheduleNext(0.0, Lead);
            Assert.IsFalse(queue.Add(0, 1.0, null, "late copy"));
            Assert.AreEqual(0, queue.PendingCount);
        }

        [Test]
        public void ASegmentReadyInTimeStartsExactlyWhenThePreviousEnds()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 1.25, null, "a");
            QueuedSegment<string> first = queue.ScheduleNext(0.0, Lead);
            queue.Add(1, 0.5, null, "b");
            QueuedSegment<string> second = queue.ScheduleNext(0.6, Lead);

            Assert.AreEqual(0.1, first.StartTime, 1e-12);
            Assert.AreEqual(first.EndTime, second.StartTime, 0.0, "no gap, no overlap");
            Assert.AreEqual(1, second.Voice);

            PlaybackPosition<string> before = queue.Locate(first.EndTime - 1e-9);
            PlaybackPosition<string> after = queue.Locate(first.EndTime);
            Assert.AreEqual(PlaybackState.Playing, before.State);
            Assert.AreEqual(0, before.Segment.Index);
            Assert.AreEqual(1.25, before.LocalTime, 1e-6);
            Assert.AreEqual(PlaybackState.Playing, after.State);
            Assert.AreEqual(1, after.Segment.Index);
            Assert.AreEqual(0.0, after.LocalTime, 1e-12);
            Assert.AreEqual("b", after.Segment.Payload);
        }

        [Test]
        public void ALateSegmentStartsAfterTheLeadAndTheGapIsWaiting()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 1.0, null, "a");
            queue.ScheduleNext(0.0, Lead); // plays 0.1 .. 1.1
            Assert.IsNull(queue.ScheduleNext(1.5, Lead));
            Assert.AreEqual(PlaybackState.Waiting, queue.Locate(1.5).State);

            queue.Add(1, 1.0, null, "b");
            QueuedSegment<string> late = queue.ScheduleNext(1.5, Lead);

            Assert.AreEqual(1.6, late.StartTime, 1e-12);
            Assert.AreEqual(PlaybackState.Waiting, queue.Locate(1.55).State);
            Assert.AreEqual(PlaybackState.Playing, queue.Locate(1.6).State);
        }

        [Test]
        public void BeforeTheFirstStartPlaybackIsWaiting()
        {
            var queue = new SegmentQueue<string>();
            Assert.AreEqual(PlaybackState.Waiting, queue.Locate(0.0).State);
            queue.Add(0, 1.0, null, "a");
            queue.ScheduleNext(5.0, Lead);
            Assert.AreEqual(PlaybackState.Waiting, queue.Locate(5.05).State);
            Assert.AreEqual(0.0, queue.Locate(5.1).LocalTime, 1e-12);
        }

        [Test]
        public void NoMoreSegmentsAreScheduledThanThereAreVoices()
        {
            var queue = new SegmentQueue<string>(voices: 2);
            queue.Add(0, 1.0, null, "a");
            queue.Add(1, 1.0, null, "b");
            queue.Add(2, 1.0, null, "c");

            CollectionAssert.AreEqual(new[] { 0, 1 }, ScheduleAll(queue, 0.0));
            Assert.IsNull(queue.ScheduleNext(1.09, Lead), "both voices still sound");

            QueuedSegment<string> third = queue.ScheduleNext(1.1, Lead);
            Assert.AreEqual(2, third.Index);
            Assert.AreEqual(0, third.Voice, "reuses the voice of segment 0, which has ended");
            Assert.AreEqual(2.1, third.StartTime, 1e-12, "still back to back with segment 1");
        }

        [Test]
        public void PlaybackFinishesOnlyAfterTheLastOfTheKnownTotal()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 1.0, null, "a");
            queue.ScheduleNext(0.0, Lead);
            Assert.AreEqual(PlaybackState.Waiting, queue.Locate(2.0).State, "the total is not known yet");

            queue.Complete(1);

            Assert.AreEqual(PlaybackState.Playing, queue.Locate(1.0).State);
            Assert.AreEqual(PlaybackState.Finished, queue.Locate(1.1).State);

            var empty = new SegmentQueue<string>();
            empty.Complete(0);
            Assert.AreEqual(PlaybackState.Finished, empty.Advance(0.0, null).State);
        }

        [Test]
        public void CompletingDropsSegmentsBeyondTheTotal()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 1.0, null, "a");
            queue.Add(3, 1.0, null, "stale");
            queue.Complete(2);
            Assert.AreEqual(1, queue.PendingCount);
            Assert.IsFalse(queue.Add(2, 1.0, null, "beyond"));
            Assert.Throws<System.ArgumentOutOfRangeException>(() => queue.Add(1, 0.0, null, "empty audio"));
        }

        [Test]
        public void MotionsFireOnceEachWhenTheClockPassesThem()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 2.0, Tracks.WithMotions(2.0, "wave", 0.0, "nod", 1.0), "a");
            queue.ScheduleNext(0.0, Lead); // 0.1 .. 2.1
            var fired = new List<MotionCue>();

            queue.Advance(0.05, fired);
            Assert.AreEqual(0, fired.Count, "not started yet");
            queue.Advance(0.1, fired);
            queue.Advance(0.5, fired);
            queue.Advance(0.5, fired);
            Assert.AreEqual(1, fired.Count);
            Assert.AreEqual("wave", fired[0].Name);
            Assert.AreEqual(0.1, fired[0].DueTime, 1e-12);

            queue.Advance(1.1, fired);
            queue.Advance(1.7, fired);
            queue.Advance(3.0, fired);
            Assert.AreEqual(2, fired.Count);
            Assert.AreEqual("nod", fired[1].Name);
            Assert.AreEqual(0, fired[1].SegmentIndex);
        }

        [Test]
        public void AFrameThatSpansASegmentBoundaryFiresBothSidesInOrder()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 1.0, Tracks.WithMotions(1.0, "bow", 1.0, "nod", 0.9), "a");
            queue.Add(1, 1.0, Tracks.WithMotions(1.0, "wave", 0.0), "b");
            ScheduleAll(queue, 0.0); // 0.1 .. 1.1 .. 2.1
            var fired = new List<MotionCue>();

            PlaybackPosition<string> position = queue.Advance(1.15, fired);

            Assert.AreEqual(1, position.Segment.Index);
            CollectionAssert.AreEqual(new[] { "nod", "bow", "wave" }, fired.ConvertAll(cue => cue.Name));
            CollectionAssert.AreEqual(new[] { 0, 0, 1 }, fired.ConvertAll(cue => cue.SegmentIndex));
            queue.Advance(5.0, fired);
            Assert.AreEqual(3, fired.Count);
        }

        [Test]
        public void AudioWithoutATrackStillPlays()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 1.0, null, "a");
            queue.ScheduleNext(0.0, 0.0);
            var fired = new List<MotionCue>();
            PlaybackPosition<string> position = queue.Advance(0.5, fired);
            Assert.AreEqual(PlaybackState.Playing, position.State);
            Assert.IsNull(position.Segment.Track);
            Assert.AreEqual(0, fired.Count);
        }

        [Test]
        public void ALongTurnPlaysGaplessWithTwoVoices()
        {
            var queue = new SegmentQueue<string>();
            var fired = new List<MotionCue>();
            var starts = new List<double>();
            var ends = new List<double>();
            int arrived = 0;
            for (int frame = 0; frame < 60 * 20; frame++)
            {
                double clock = frame / 60.0;
                // A segment of 0.5 + 0.1 * (i % 4) s arrives every 0.4 s: the producer stays ahead.
                while (arrived < 20 && arrived * 0.4 <= clock)
                {
                    double length = 0.5 + 0.1 * (arrived % 4);
                    queue.Add(arrived, length, Tracks.WithMotions(length, "m" + arrived, 0.2), "s" + arrived);
                    arrived++;
                }
                QueuedSegment<string> next;
                while ((next = queue.ScheduleNext(clock, Lead)) != null)
                {
                    starts.Add(next.StartTime);
                    ends.Add(next.EndTime);
                }
                if (arrived == 20 && queue.TotalSegments < 0) queue.Complete(20);
                queue.Advance(clock, fired);
            }

            Assert.AreEqual(20, starts.Count);
            for (int i = 1; i < starts.Count; i++) Assert.AreEqual(ends[i - 1], starts[i], 1e-9, "gap before segment " + i);
            Assert.AreEqual(20, fired.Count);
            for (int i = 0; i < fired.Count; i++) Assert.AreEqual("m" + i, fired[i].Name);
            Assert.AreEqual(PlaybackState.Finished, queue.Locate(ends[19]).State);
        }

        [Test]
        public void DropFromStopsThatSegmentAndLaterOnesAndNumberingResumesThere()
        {
            var queue = new SegmentQueue<string>(voices: 2);
            for (int i = 0; i < 4; i++) queue.Add(i, 1.0, null, "s" + i);
            CollectionAssert.AreEqual(new[] { 0, 1 }, ScheduleAll(queue, 0.0)); // 0: 0.1-1.1 on voice 0, 1: 1.1-2.1 on voice 1
            var dropped = new List<QueuedSegment<string>>();
            queue.DropFrom(1, dropped);
            CollectionAssert.AreEqual(new[] { 1 }, dropped.ConvertAll(s => s.Index), "the scheduled one, for its voice to stop");
            Assert.AreEqual(1, queue.NextIndex);
            Assert.AreEqual(0, queue.PendingCount, "2 and 3 are gone too");
            Assert.IsFalse(queue.Add(0, 1.0, null, "again"), "0 still plays");

            Assert.IsTrue(queue.Add(1, 0.5, null, "new1"));
            QueuedSegment<string> next = queue.ScheduleNext(0.5, Lead);
            Assert.AreEqual(1.1, next.StartTime, 1e-12, "straight after segment 0, as before");
            Assert.AreEqual(1, next.Voice, "voice 0 still plays segment 0");
        }

        [Test]
        public void AfterADropTheNextVoiceIsOneThatIsFree()
        {
            var queue = new SegmentQueue<string>(voices: 2);
            queue.Add(0, 1.0, null, "a");
            queue.Add(1, 1.0, null, "b");
            ScheduleAll(queue, 0.0);
            queue.DropFrom(1, null);
            queue.Add(1, 1.0, null, "c");
            Assert.AreEqual(1, queue.ScheduleNext(0.2, Lead).Voice);
            queue.DropFrom(1, null);
            queue.Add(1, 1.0, null, "d");
            Assert.AreEqual(1, queue.ScheduleNext(0.3, Lead).Voice, "round robin would pick voice 0, which plays segment 0");
        }

        [Test]
        public void ATrackThatComesLateIsSampledAndItsDueMotionsFire()
        {
            var queue = new SegmentQueue<string>();
            queue.Add(0, 2.0, null, "a");
            queue.ScheduleNext(0.0, Lead);
            var fired = new List<MotionCue>();
            Assert.IsNull(queue.Advance(0.5, fired).Segment.Track);
            Assert.IsTrue(queue.SetTrack(0, Tracks.WithMotions(2.0, "wave", 0.1, "nod", 1.5)));
            Assert.IsFalse(queue.SetTrack(7, Tracks.Resting(1.0)), "not queued");
            PlaybackPosition<string> position = queue.Advance(0.6, fired);
            Assert.IsNotNull(position.Segment.Track);
            CollectionAssert.AreEqual(new[] { "wave" }, fired.ConvertAll(cue => cue.Name), "late, not lost");
            queue.Advance(1.7, fired);
            CollectionAssert.AreEqual(new[] { "wave", "nod" }, fired.ConvertAll(cue => cue.Name));
        }
    }
}
