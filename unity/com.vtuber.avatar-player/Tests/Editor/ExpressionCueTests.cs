using NUnit.Framework;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class ExpressionCueTests
    {
        [Test]
        public void TheCueRisesHoldsAndFallsOverItsFade()
        {
            var cue = new ExpressionCue("happy", 0.8, 2.0, 0.5);
            Assert.AreEqual(2.5, cue.EndS, 1e-12);
            Assert.AreEqual(0.0, cue.Envelope(-0.1));
            Assert.AreEqual(0.0, cue.Envelope(0.0));
            Assert.AreEqual(0.5, cue.Envelope(0.25), 1e-12);
            Assert.AreEqual(1.0, cue.Envelope(0.5), 1e-12);
            Assert.AreEqual(1.0, cue.Envelope(2.0), 1e-12);
            Assert.AreEqual(0.5, cue.Envelope(2.25), 1e-12);
            Assert.AreEqual(0.0, cue.Envelope(2.5));
            Assert.IsTrue(cue.IsOver(2.5));
            Assert.IsFalse(cue.IsOver(2.49));
        }

        [Test]
        public void WithoutAFadeItSwitchesOnAndOff()
        {
            var cue = new ExpressionCue("sad", 1.0, 1.0, 0.0);
            Assert.AreEqual(1.0, cue.Envelope(0.0));
            Assert.AreEqual(1.0, cue.Envelope(0.999));
            Assert.AreEqual(0.0, cue.Envelope(1.0));
        }

        [Test]
        public void WhileItShowsItReplacesTheTracksEmotion()
        {
            var frame = new FaceFrame();
            frame.Clear();
            frame.Expressions[TrackChannels.Emotions.IndexOf("sad")] = 0.6f;
            var cue = new ExpressionCue("happy", 0.8, 2.0, 0.5);

            cue.ApplyTo(frame, 0.25); // half way in
            Assert.AreEqual(0.4f, frame.Get(CurveGroup.Expressions, "happy"), 1e-6);
            Assert.AreEqual(0.3f, frame.Get(CurveGroup.Expressions, "sad"), 1e-6);

            frame.Expressions[TrackChannels.Emotions.IndexOf("sad")] = 0.6f;
            cue.ApplyTo(frame, 1.0); // held
            Assert.AreEqual(0.8f, frame.Get(CurveGroup.Expressions, "happy"), 1e-6);
            Assert.AreEqual(0f, frame.Get(CurveGroup.Expressions, "sad"), 1e-6);
            Assert.AreEqual(0f, frame.Get(CurveGroup.Mouth, "aa"), "the mouth is the track's");
        }

        [Test]
        public void WeightIsClampedAndACustomExpressionOnlyFadesThePresets()
        {
            Assert.AreEqual(1.0, new ExpressionCue("happy", 3.0, 1.0, 0.0).Weight);
            var frame = new FaceFrame();
            frame.Clear();
            frame.Expressions[0] = 1f;
            new ExpressionCue("wink", 1.0, 1.0, 0.0).ApplyTo(frame, 0.5);
            CollectionAssert.AreEqual(new float[TrackChannels.Emotions.Count], frame.Expressions);
        }
    }
}
