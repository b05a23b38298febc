using NUnit.Framework;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class AnimatedFaceBlendTests
    {
        const float Own = 0.3f;
        const float Animated = 0.8f;

        static float Combine(FaceKeyKind kind, bool driving, bool speaking, bool max = false, float own = Own, float animated = Animated)
        {
            return AnimatedFaceBlend.Combine(kind, own, animated, driving, speaking, max);
        }

        [Test]
        public void BetweenTurnsTheAnimationHasTheWholeFace()
        {
            foreach (FaceKeyKind kind in new[] { FaceKeyKind.Mouth, FaceKeyKind.Blink, FaceKeyKind.Emotion })
                Assert.AreEqual(Animated, Combine(kind, driving: false, speaking: false, max: true, own: 1f), kind.ToString());
        }

        [Test]
        public void TheSpeechOwnsTheMouthOnlyWhileASegmentPlays()
        {
            Assert.AreEqual(Own, Combine(FaceKeyKind.Mouth, driving: true, speaking: true), "a shut mouth in speech stays shut");
            Assert.AreEqual(0f, Combine(FaceKeyKind.Mouth, driving: true, speaking: true, own: 0f));
            Assert.AreEqual(Animated, Combine(FaceKeyKind.Mouth, driving: true, speaking: false), "a manual expression alone leaves the mouth");
        }

        [Test]
        public void EitherBlinkClosesTheEyes()
        {
            Assert.AreEqual(Animated, Combine(FaceKeyKind.Blink, driving: true, speaking: true));
            Assert.AreEqual(1f, Combine(FaceKeyKind.Blink, driving: true, speaking: true, own: 1f, animated: 0f));
        }

        [Test]
        public void EmotionsAreThePlayersOrTheLarger()
        {
            Assert.AreEqual(Own, Combine(FaceKeyKind.Emotion, driving: true, speaking: true), "player wins");
            Assert.AreEqual(0f, Combine(FaceKeyKind.Emotion, driving: true, speaking: false, own: 0f), "even at rest: a sad line drops an animated smile");
            Assert.AreEqual(Animated, Combine(FaceKeyKind.Emotion, driving: true, speaking: true, max: true));
            Assert.AreEqual(0.9f, Combine(FaceKeyKind.Emotion, driving: true, speaking: true, max: true, own: 0.9f));
        }
    }
}
