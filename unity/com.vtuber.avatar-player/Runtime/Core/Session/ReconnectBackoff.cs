using System;

namespace VTuber.Animation
{
    /// <summary>
    /// How long to wait before reconnecting: doubling from <see cref="InitialS"/> up to <see cref="MaxS"/> while
    /// attempts fail, less a random share (<see cref="Jitter"/>) so that many clients a server dropped at once do
    /// not all come back in the same instant. <see cref="Reset"/> once a connection has worked.
    /// </summary>
    public sealed class ReconnectBackoff
    {
        readonly Random _random;

        public ReconnectBackoff(double initialS = 0.5, double maxS = 30.0, double jitter = 0.25, Random random = null)
        {
            if (!(initialS > 0.0) || !(maxS >= initialS)) throw new ArgumentOutOfRangeException("initialS", "0 < initialS <= maxS");
            if (!(jitter >= 0.0 && jitter < 1.0)) throw new ArgumentOutOfRangeException("jitter", "0 <= jitter < 1");
            InitialS = initialS;
            MaxS = maxS;
            Jitter = jitter;
            _random = random ?? new Random();
        }

        public double InitialS { get; private set; }
        public double MaxS { get; private set; }
        public double Jitter { get; private set; }

        /// <summary>Failed attempts since the last <see cref="Reset"/>.</summary>
        public int Failures { get; private set; }

        /// <summary>The wait before the next attempt; counts one more failure.</summary>
        public double NextDelayS()
        {
            double delay = Math.Min(MaxS, InitialS * Math.Pow(2.0, Math.Min(Failures, 62)));
            if (Failures < int.MaxValue) Failures++;
            return delay * (1.0 - Jitter * _random.NextDouble());
        }

        public void Reset()
        {
            Failures = 0;
        }
    }
}
