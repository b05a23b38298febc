using NUnit.Framework;
using VTuber.Animation;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class TrackSamplerTests
    {
        [Test]
        public void SamplesEveryGroupByChannel()
        {
            AnimationTrack track = Tracks.Resting(1.0);
            track.SetCurve(CurveGroup.Mouth, "oh", Tracks.Keys(0.0, 0.0, 0.5, 0.8, 1.0, 0.0));
            track.SetCurve(CurveGroup.Visemes, "E", Tracks.Keys(0.0, 0.0, 0.5, 1.0, 1.0, 0.0));
            track.SetCurve(CurveGroup.Expressions, "sad", Tracks.Keys(0.0, 0.0, 0.25, 0.7, 1.0, 0.7));

            FaceFrame frame = TrackSampler.Sample(track, 0.25);

            Assert.AreEqual(0.4f, frame.Get(CurveGroup.Mouth, "oh"), 1e-6);
            Assert.AreEqual(0f, frame.Get(CurveGroup.Mouth, "ee"), 1e-6, "the viseme E is not the mouth shape ee");
            Assert.AreEqual(0.5f, frame.Get(CurveGroup.Visemes, "E"), 1e-6);
            Assert.AreEqual(1f, frame.Get(CurveGroup.Visemes, "sil"), 1e-6);
            Assert.AreEqual(0.7f, frame.Get(CurveGroup.Expressions, "sad"), 1e-6);
            Assert.AreEqual(0.7f, frame.Expressions[TrackChannels.Emotions.IndexOf("sad")], 1e-6);
            Assert.AreEqual(0f, frame.Blink, 1e-6);
        }

        [Test]
        public void BlinkRisesOverTheFirstHalfAndFallsOverTheSecond()
        {
            AnimationTrack track = Tracks.Resting(2.0);
            track.Blinks.Add(new Blink(1.0, 0.2));

            Assert.AreEqual(0f, TrackSampler.Sample(track, 0.99).Blink, 1e-6);
            Assert.AreEqual(0f, TrackSampler.Sample(track, 1.0).Blink, 1e-6);
            Assert.AreEqual(0.5f, TrackSampler.Sample(track, 1.05).Blink, 1e-5);
            Assert.AreEqual(1f, TrackSampler.Sample(track, 1.1).Blink, 1e-5);
            Assert.AreEqual(0.5f, TrackSampler.Sample(track, 1.15).Blink, 1e-5);
            Assert.AreEqual(0f, TrackSampler.Sample(track, 1.2).Blink, 1e-5);
            Assert.AreEqual(0f, TrackSampler.Sample(track, 1.5).Blink, 1e-6);
        }

        [Test]
        public void EachOfSeveralBlinksIsFound()
        {
            AnimationTrack track = Tracks.Resting(6.0);
            track.Blinks.Add(new Blink(0.5, 0.15));
            track.Blinks.Add(new Blink(2.5, 0.2));
            track.Blinks.Add(new Blink(5.0, 0.2));

            Assert.AreEqual(1f, TrackSampler.Sample(track, 0.575).Blink, 1e-5);
            Assert.AreEqual(1f, TrackSampler.Sample(track, 2.6).Blink, 1e-5);
            Assert.AreEqual(0.5f, TrackSampler.Sample(track, 5.05).Blink, 1e-5);
            Assert.AreEqual(0f, TrackSampler.Sample(track, 4.0).Blink, 1e-6);
        }

        [Test]
        public void AMissingCurveSamplesAsZero()
        {
            var track = new AnimationTrack("1.0", 1.0, "energy", "neutral");
            track.SetCurve(CurveGroup.Mouth, "aa", Curve.Constant(1.0, 0.6f));

            FaceFrame frame = TrackSampler.Sample(track, 0.5);

            Assert.AreEqual(0.6f, frame.Get(CurveGroup.Mouth, "aa"), 1e-6);
            Assert.AreEqual(0f, frame.Get(CurveGroup.Mouth, "ih"), 1e-6);
            Assert.AreEqual(0f, frame.Get(CurveGroup.Visemes, "sil"), 1e-6);
        }

        [Test]
        public void RefillingAFrameOverwritesTheLastSample()
        {
            AnimationTrack track = Tracks.Resting(1.0);
            track.SetCurve(CurveGroup.Mouth, "aa", Tracks.Keys(0.0, 1.0, 1.0, 0.0));
            track.Blinks.Add(new Blink(0.0, 0.2));
            var frame = new FaceFrame();

            TrackSampler.Sample(track, 0.1, frame);
            Assert.AreEqual(1f, frame.Blink, 1e-5);
            TrackSampler.Sample(track, 0.9, frame);

            Assert.AreEqual(0.1f, frame.Get(CurveGroup.Mouth, "aa"), 1e-5);
            Assert.AreEqual(0f, frame.Blink, 1e-6);
        }

        [Test]
        public void ClearedFrameIsTheRestPose()
        {
            var frame = new FaceFrame();
            frame.Mouth[0] = 1f;
            frame.Expressions[2] = 1f;
            frame.Blink = 1f;

            frame.Clear();

            CollectionAssert.AreEqual(new float[5], frame.Mouth);
            CollectionAssert.AreEqual(new float[6], frame.Expressions);
            Assert.AreEqual(1f, frame.Get(CurveGroup.Visemes, "sil"));
            Assert.AreEqual(0f, frame.Blink);
        }

        [Test]
        public void UnknownChannelNamesAreRefused()
        {
            AnimationTrack track = Tracks.Resting(1.0);
            Assert.Throws<System.ArgumentException>(() => track.SetCurve(CurveGroup.Mouth, "E", Curve.Constant(1.0, 0f)));
            Assert.Throws<System.ArgumentException>(() => new FaceFrame().Get(CurveGroup.Expressions, "joy"));
        }
    }
}
