using System.Collections.Generic;

namespace VTuber.Animation
{
    /// <summary>
    /// A track's face at a playback time: the same linear interpolation the backend's reference sampler uses,
    /// clamped to [0, 1], with the blink triangle on top. Stateless, so seeking and replay cost nothing.
    /// </summary>
    public static class TrackSampler
    {
        /// <summary>Fill <paramref name="frame"/> with the weights at <paramref name="t"/> seconds into the segment.</summary>
        public static void Sample(AnimationTrack track, double t, FaceFrame frame)
        {
            SampleGroup(track, CurveGroup.Mouth, t, frame.Mouth);
            SampleGroup(track, CurveGroup.Visemes, t, frame.Visemes);
            SampleGroup(track, CurveGroup.Expressions, t, frame.Expressions);
            frame.Blink = BlinkWeight(track.Blinks, t);
        }

        /// <summary>Allocating convenience for tools and tests.</summary>
        public static FaceFrame Sample(AnimationTrack track, double t)
        {
            var frame = new FaceFrame();
            Sample(track, t, frame);
            return frame;
        }

        /// <summary>The strongest blink at <paramref name="t"/> (blinks do not overlap in practice).</summary>
        public static float BlinkWeight(List<Blink> blinks, double t)
        {
            float weight = 0f;
            for (int i = 0; i < blinks.Count; i++)
            {
                Blink blink = blinks[i];
                if (blink.T >= t) break; // sorted: later blinks have not started
                float w = blink.WeightAt(t);
                if (w > weight) weight = w;
            }
            return weight;
        }

        static void SampleGroup(AnimationTrack track, CurveGroup group, double t, float[] into)
        {
            for (int i = 0; i < into.Length; i++)
            {
                Curve curve = track.GetCurve(group, i);
                into[i] = curve == null ? 0f : curve.Sample(t);
            }
        }
    }
}
