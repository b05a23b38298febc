using NUnit.Framework;
using VTuber.Animation;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class TrackValidatorTests
    {
        [Test]
        public void ARestingTrackIsValid()
        {
            AnimationTrack track = Tracks.WithMotions(2.0, "wave", 0.0, "nod", 1.0);
            track.Blinks.Add(new Blink(0.5, 0.15));
            CollectionAssert.IsEmpty(TrackValidator.Problems(track));
        }

        [Test]
        public void AnotherSchemaVersionIsRefused()
        {
            var track = new AnimationTrack("2.0", 1.0, "alignment", "neutral");
            StringAssert.Contains("schema_version", string.Join("; ", TrackValidator.Problems(track).ToArray()));
        }

        [Test]
        public void EveryChannelMustBePresent()
        {
            AnimationTrack track = Tracks.Resting(1.0);
            track.SetCurve(CurveGroup.Visemes, "kk", null);
            CollectionAssert.AreEqual(new[] { "visemes.kk is missing" }, TrackValidator.Problems(track));
        }

        [Test]
        public void CurvesMustSpanTheAudioWithIncreasingTimes()
        {
            AnimationTrack track = Tracks.Resting(1.0);
            track.SetCurve(CurveGroup.Mouth, "aa", Tracks.Keys(0.0, 0.0, 0.9, 0.0));
            track.SetCurve(CurveGroup.Mouth, "ih", Tracks.Keys(0.0, 0.0, 0.5, 0.1, 0.5, 0.2, 1.0, 0.0));
            track.SetCurve(CurveGroup.Expressions, "happy", Tracks.Keys(0.0, 0.0, 0.5, 1.5, 1.0, 0.0));

            var problems = TrackValidator.Problems(track);

            CollectionAssert.AreEquivalent(
                new[]
                {
                    "mouth.aa must start at 0 and end at duration_s",
                    "mouth.ih keyframe times must increase",
                    "expressions.happy has a weight outside [0, 1]",
                },
                problems);
        }

        [Test]
        public void BlinksAndMotionsMustLieInsideTheAudioInOrder()
        {
            AnimationTrack track = Tracks.WithMotions(1.0, "wave", 0.5, "nod", 0.2, "bow", 1.5);
            track.Blinks.Add(new Blink(0.9, 0.2));

            string all = string.Join("; ", TrackValidator.Problems(track).ToArray());

            StringAssert.Contains("blink at 0.9 s lies outside the audio", all);
            StringAssert.Contains("motions are not sorted", all);
            StringAssert.Contains("motion 'bow' starts outside the audio", all);
        }

        [Test]
        public void NoTrackOrNoDurationIsReported()
        {
            CollectionAssert.AreEqual(new[] { "no track" }, TrackValidator.Problems(null));
            CollectionAssert.AreEqual(
                new[] { "duration_s must be > 0" }, TrackValidator.Problems(new AnimationTrack("1.0", 0.0, "energy", "neutral")));
        }
    }
}
