using System.Collections.Generic;
using VTuber.Animation;

namespace VTuber.Animation.Tests
{
    /// <summary>Small hand-made tracks: a valid resting track to edit, and curves from (t, w) pairs.</summary>
    static class Tracks
    {
        public static Curve Keys(params double[] timeWeightPairs)
        {
            var keys = new List<Keyframe>();
            for (int i = 0; i + 1 < timeWeightPairs.Length; i += 2)
                keys.Add(new Keyframe(timeWeightPairs[i], (float)timeWeightPairs[i + 1]));
            return new Curve(keys);
        }

        /// <summary>A valid track: closed mouth (sil = 1), no expression, no blinks or motions.</summary>
        public static AnimationTrack Resting(double durationS)
        {
            var track = new AnimationTrack(AnimationTrack.SupportedSchemaVersion, durationS, "alignment", "neutral");
            foreach (CurveGroup group in new[] { CurveGroup.Mouth, CurveGroup.Visemes, CurveGroup.Expressions })
            {
                foreach (string name in TrackChannels.Of(group))
                    track.SetCurve(group, name, Curve.Constant(durationS, group == CurveGroup.Visemes && name == "sil" ? 1f : 0f));
            }
            return track;
        }

        public static AnimationTrack WithMotions(double durationS, params object[] nameTimePairs)
        {
            AnimationTrack track = Resting(durationS);
            for (int i = 0; i + 1 < nameTimePairs.Length; i += 2)
                track.Motions.Add(new MotionTrigger((string)nameTimePairs[i], (double)nameTimePairs[i + 1]));
            return track;
        }
    }
}
