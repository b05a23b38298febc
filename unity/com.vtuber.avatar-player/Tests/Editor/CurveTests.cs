using NUnit.Framework;
using VTuber.Animation;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class CurveTests
    {
        static readonly Curve Ramp = Tracks.Keys(0.0, 0.0, 0.5, 1.0, 1.0, 0.25, 2.0, 0.25);

        [TestCase(0.0, 0.0f)]
        [TestCase(0.5, 1.0f)]
        [TestCase(1.0, 0.25f)]
        [TestCase(2.0, 0.25f)]
        public void AtAKeyframeGivesItsWeight(double t, float expected)
        {
            Assert.AreEqual(expected, Ramp.Sample(t), 1e-6);
        }

        [TestCase(0.25, 0.5f)]
        [TestCase(0.1, 0.2f)]
        [TestCase(0.75, 0.625f)]
        [TestCase(1.5, 0.25f)]
        public void BetweenKeyframesIsLinear(double t, float expected)
        {
            Assert.AreEqual(expected, Ramp.Sample(t), 1e-6);
        }

        [TestCase(-1.0, 0.0f)]
        [TestCase(2.0001, 0.25f)]
        [TestCase(60.0, 0.25f)]
        public void BeyondTheEndsHoldsTheEndWeight(double t, float expected)
        {
            Assert.AreEqual(expected, Ramp.Sample(t), 1e-6);
        }

        [Test]
        public void NaNTimeGivesTheFirstWeight()
        {
            Assert.AreEqual(0.5f, Tracks.Keys(0.0, 0.5, 1.0, 1.0).Sample(double.NaN), 1e-6);
        }

        [Test]
        public void WeightsAreClampedToTheUnitRange()
        {
            Curve wild = Tracks.Keys(0.0, -0.5, 1.0, 1.5);
            Assert.AreEqual(0f, wild.Sample(0.0), 1e-6);
            Assert.AreEqual(0f, wild.Sample(0.1), 1e-6, "-0.3 interpolated is clamped to 0");
            Assert.AreEqual(0.5f, wild.Sample(0.5), 1e-6);
            Assert.AreEqual(1f, wild.Sample(0.9), 1e-6, "1.3 interpolated is clamped to 1");
            Assert.AreEqual(1f, wild.Sample(5.0), 1e-6);
        }

        [Test]
        public void AnEmptyCurveIsZeroAndASingleKeyIsFlat()
        {
            Assert.AreEqual(0f, Tracks.Keys().Sample(0.3), 1e-6);
            Assert.AreEqual(0.7f, Tracks.Keys(0.2, 0.7).Sample(0.0), 1e-6);
            Assert.AreEqual(0.7f, Tracks.Keys(0.2, 0.7).Sample(9.0), 1e-6);
        }

        [Test]
        public void ManyKeyframesAreSearchedCorrectly()
        {
            var keys = new double[2 * 1001];
            for (int i = 0; i <= 1000; i++)
            {
                keys[2 * i] = i * 0.01;
                keys[2 * i + 1] = i % 2; // a zigzag: 0, 1, 0, 1 ...
            }
            Curve zigzag = Tracks.Keys(keys);
            Assert.AreEqual(0.5f, zigzag.Sample(3.335), 1e-4);
            Assert.AreEqual(1f, zigzag.Sample(3.33), 1e-4);
            Assert.AreEqual(0f, zigzag.Sample(3.34), 1e-4);
            Assert.AreEqual(0.75f, zigzag.Sample(9.9925), 1e-4);
        }
    }
}
