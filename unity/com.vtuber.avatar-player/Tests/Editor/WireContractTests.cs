// Fixture shapes written by tests/integration/test_unity_core.py; names are the wire's.
// ReSharper disable InconsistentNaming
using System;
using System.Collections.Generic;
using System.IO;
using NUnit.Framework;
using VTuber.Animation;
using VTuber.Animation.Wire;

namespace VTuber.Animation.Tests
{
    /// <summary>
    /// The wire classes against JSON as the backend writes it. The fixture tests read tracks and a job that
    /// the Python backend built (directory in VTUBER_CONTRACT_FIXTURES) with the reference sampler's
    /// weights, so both sides are proven to read the same contract the same way (parsed strictly, see
    /// <see cref="ContractFixtures"/>).
    /// </summary>
    [TestFixture]
    public class WireContractTests
    {
        [Serializable]
        public sealed class ExpectedSample
        {
            public string group;
            public string name;
            public double t;
            public double w;
        }

        [Serializable]
        public sealed class ExpectedBlink
        {
            public double t;
            public double w;
        }

        [Serializable]
        public sealed class Expected
        {
            public string track;
            public ExpectedSample[] samples;
            public ExpectedBlink[] blinks;
            public MotionTriggerDto[] motions;
        }

        static T Parse<T>(string json)
        {
            return ContractFixtures.Parse<T>(json);
        }

        static string FixturesDirectory()
        {
            return ContractFixtures.Directory();
        }

        static CurveGroup GroupOf(string name)
        {
            switch (name)
            {
                case "mouth": return CurveGroup.Mouth;
                case "visemes": return CurveGroup.Visemes;
                case "expressions": return CurveGroup.Expressions;
                default: throw new ArgumentException("unknown group " + name);
            }
        }

        static KeyframeDto[] Keys(params double[] timeWeightPairs)
        {
            var keys = new KeyframeDto[timeWeightPairs.Length / 2];
            for (int i = 0; i < keys.Length; i++)
                keys[i] = new KeyframeDto { t = timeWeightPairs[2 * i], w = timeWeightPairs[2 * i + 1] };
            return keys;
        }

        [Test]
        public void TheWireTrackMapsOntoTheCoreTrack()
        {
            var dto = new AnimationTrackDto
            {
                schema_version = "1.0",
                duration_s = 1.0,
                source = "energy",
                emotion = "sad",
                mouth = new MouthDto { aa = Keys(0.0, 0.0, 1.0, 0.5), ee = Keys(0.0, 0.25, 1.0, 0.25) },
                visemes = new VisemesDto { E = Keys(0.0, 1.0, 1.0, 1.0) },
                expressions = null,
                blinks = new[] { new BlinkDto { t = 0.2, duration_s = 0.2 } },
                motions = new[] { new MotionTriggerDto { name = "wave", t = 0.5 } },
            };

            AnimationTrack track = dto.ToTrack();
            FaceFrame frame = TrackSampler.Sample(track, 0.5);

            Assert.IsTrue(dto.IsPresent);
            Assert.AreEqual("1.0", track.SchemaVersion);
            Assert.AreEqual("energy", track.Source);
            Assert.AreEqual("sad", track.Emotion);
            Assert.AreEqual(0.25f, frame.Get(CurveGroup.Mouth, "aa"), 1e-6);
            Assert.AreEqual(0.25f, frame.Get(CurveGroup.Mouth, "ee"), 1e-6);
            Assert.AreEqual(1f, frame.Get(CurveGroup.Visemes, "E"), 1e-6);
            Assert.AreEqual(1f, TrackSampler.Sample(track, 0.3).Blink, 1e-6);
            Assert.AreEqual("wave", track.Motions[0].Name);
            List<string> problems = TrackValidator.Problems(track);
            Assert.Contains("mouth.ih is missing", problems);
            Assert.Contains("visemes.sil is missing", problems);
            Assert.Contains("expressions.neutral is missing", problems);
        }

        [Test]
        public void AnEmptyWireTrackIsAbsent()
        {
            // JsonUtility turns "animation": null into an empty object rather than null.
            Assert.IsFalse(new AnimationTrackDto().IsPresent);
        }

        [Test]
        public void TracksBuiltByTheBackendValidateAndSampleLikeTheReference()
        {
            string directory = FixturesDirectory();
            string[] expectations = Directory.GetFiles(directory, "*.expected.json");
            Assert.IsTrue(expectations.Length > 0, "no *.expected.json in " + directory);

            foreach (string path in expectations)
            {
                Expected expected = Parse<Expected>(File.ReadAllText(path));
                AnimationTrack track = Parse<AnimationTrackDto>(File.ReadAllText(Path.Combine(directory, expected.track))).ToTrack();
                string label = expected.track + ": ";

                CollectionAssert.IsEmpty(TrackValidator.Problems(track), label + "the backend's track breaks the contract");
                Assert.IsTrue(expected.samples.Length > 100, label + "too few reference samples");
                var frame = new FaceFrame();
                foreach (ExpectedSample sample in expected.samples)
                {
                    TrackSampler.Sample(track, sample.t, frame);
                    Assert.AreEqual(sample.w, frame.Get(GroupOf(sample.group), sample.name), 1e-5,
                        label + sample.group + "." + sample.name + " at " + sample.t + " s");
                }
                foreach (ExpectedBlink blink in expected.blinks)
                    Assert.AreEqual(blink.w, TrackSampler.Sample(track, blink.t).Blink, 1e-5, label + "blink at " + blink.t + " s");
                Assert.AreEqual(expected.motions.Length, track.Motions.Count, label + "motions");
                for (int i = 0; i < expected.motions.Length; i++)
                {
                    Assert.AreEqual(expected.motions[i].name, track.Motions[i].Name, label + "motion " + i);
                    Assert.AreEqual(expected.motions[i].t, track.Motions[i].T, 1e-9, label + "motion " + i);
                }
            }
        }

        [Test]
        public void ARunningJobFromTheApiShowsWhatIsReady()
        {
            JobDto job = Parse<JobDto>(File.ReadAllText(Path.Combine(FixturesDirectory(), "job-running.json")));

            Assert.AreEqual("running", job.status);
            Assert.IsFalse(job.IsFinished);
            Assert.IsNull(job.error);
            Assert.IsTrue(job.segments[0].ready);
            Assert.IsTrue(job.segments[0].animation.IsPresent);
            Assert.IsFalse(job.segments[1].ready);
            Assert.IsNull(job.segments[1].audio_url);
            Assert.IsTrue(job.segments[1].animation == null || !job.segments[1].animation.IsPresent);
        }

        [Test]
        public void ACompletedJobFromTheApiPlaysThroughWithEveryMotionOnce()
        {
            JobDto job = Parse<JobDto>(File.ReadAllText(Path.Combine(FixturesDirectory(), "job-completed.json")));

            Assert.AreEqual(JobDto.Completed, job.status);
            Assert.IsTrue(job.IsFinished);
            var queue = new SegmentQueue<string>();
            for (int i = job.segments.Length - 1; i >= 0; i--) // arrival order does not matter
            {
                SegmentDto segment = job.segments[i];
                Assert.IsTrue(segment.ready, "segment " + segment.index);
                StringAssert.EndsWith("/v1/audio/" + segment.audio_id, segment.audio_url);
                Assert.IsTrue(segment.animation.IsPresent, "segment " + segment.index);
                AnimationTrack track = segment.animation.ToTrack();
                CollectionAssert.IsEmpty(TrackValidator.Problems(track), "segment " + segment.index);
                Assert.IsTrue(queue.Add(segment.index, track.DurationS, track, segment.audio_url));
            }
            queue.Complete(job.segments.Length);
            var fired = new List<MotionCue>();
            var heard = new List<string>();
            double clock = 0.0;
            while (clock < 60.0 && queue.Locate(clock).State != PlaybackState.Finished)
            {
                while (queue.ScheduleNext(clock, 0.1) != null) { }
                PlaybackPosition<string> position = queue.Advance(clock, fired);
                if (position.State == PlaybackState.Playing && !heard.Contains(position.Segment.Payload))
                    heard.Add(position.Segment.Payload);
                clock += 1.0 / 60.0;
            }

            Assert.AreEqual(PlaybackState.Finished, queue.Locate(clock).State);
            var urls = new List<string>();
            var names = new List<string>();
            foreach (SegmentDto segment in job.segments)
            {
                urls.Add(segment.audio_url);
                names.AddRange(segment.motions);
            }
            CollectionAssert.AreEqual(urls, heard, "segments play in index order");
            Assert.IsTrue(names.Count > 0, "the fixture should carry motion tags");
            CollectionAssert.AreEqual(names, fired.ConvertAll(cue => cue.Name), "every motion tag fired once, in order");
        }
    }
}
