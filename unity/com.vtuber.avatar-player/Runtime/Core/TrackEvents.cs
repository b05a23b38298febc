using System;

namespace VTuber.Animation
{
    /// <summary>One blink of the VRM <c>blink</c> expression: weight 0 → 1 linearly over the first half, back to 0.</summary>
    public struct Blink
    {
        public readonly double T;
        public readonly double DurationS;

        public Blink(double t, double durationS)
        {
            T = t;
            DurationS = durationS;
        }

        public double EndT
        {
            get { return T + DurationS; }
        }

        public float WeightAt(double t)
        {
            if (!(DurationS > 0.0) || !(t > T) || t >= EndT) return 0f;
            double phase = (t - T) / DurationS;
            return (float)(1.0 - Math.Abs(2.0 * phase - 1.0));
        }
    }

    /// <summary>Start the named motion (one of the persona's allowed motions, e.g. <c>wave</c>) at time <c>T</c>.</summary>
    public struct MotionTrigger
    {
        public readonly string Name;
        public readonly double T;

        public MotionTrigger(string name, double t)
        {
            Name = name;
            T = t;
        }
    }
}
