using System;
using System.Collections.Generic;

namespace VTuber.Animation
{
    /// <summary>
    /// Keyframes played with linear interpolation, as the backend defines them. Held flat before the first
    /// and after the last key, so a clock that runs a little past the audio never extrapolates.
    /// </summary>
    public sealed class Curve
    {
        readonly Keyframe[] _keys;

        public Curve(IEnumerable<Keyframe> keys)
        {
            if (keys == null) throw new ArgumentNullException("keys");
            _keys = new List<Keyframe>(keys).ToArray();
        }

        /// <summary>A flat curve from 0 to <paramref name="durationS"/>.</summary>
        public static Curve Constant(double durationS, float w)
        {
            return new Curve(new[] { new Keyframe(0.0, w), new Keyframe(durationS, w) });
        }

        public int Count
        {
            get { return _keys.Length; }
        }

        public Keyframe this[int index]
        {
            get { return _keys[index]; }
        }

        /// <summary>The weight at <paramref name="t"/> seconds, clamped to [0, 1]; 0 for an empty curve.</summary>
        public float Sample(double t)
        {
            int n = _keys.Length;
            if (n == 0) return 0f;
            if (!(t > _keys[0].T)) return Clamp01(_keys[0].W); // also catches NaN
            if (t >= _keys[n - 1].T) return Clamp01(_keys[n - 1].W);

            // Invariant: keys[lo].T <= t < keys[hi].T.
            int lo = 0, hi = n - 1;
            while (hi - lo > 1)
            {
                int mid = (lo + hi) >> 1;
                if (_keys[mid].T <= t) lo = mid;
                else hi = mid;
            }
            Keyframe a = _keys[lo], b = _keys[hi];
            double span = b.T - a.T;
            if (span <= 0.0) return Clamp01(b.W);
            double f = (t - a.T) / span;
            return Clamp01((float)(a.W + (b.W - a.W) * f));
        }

        internal static float Clamp01(float w)
        {
            if (w > 1f) return 1f;
            if (w > 0f) return w;
            return 0f; // negatives and NaN
        }
    }
}
