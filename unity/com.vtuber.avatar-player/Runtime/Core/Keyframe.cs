using System.Globalization;

namespace VTuber.Animation
{
    /// <summary>A weight at a time: <c>T</c> in seconds from the start of the segment's audio, <c>W</c> in [0, 1].</summary>
    public struct Keyframe
    {
        public readonly double T;
        public readonly float W;

        public Keyframe(double t, float w)
        {
            T = t;
            W = w;
        }

        public override string ToString()
        {
            return string.Format(CultureInfo.InvariantCulture, "({0:0.####} s, {1:0.###})", T, W);
        }
    }
}
