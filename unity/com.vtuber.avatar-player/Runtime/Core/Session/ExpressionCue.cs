using System;

namespace VTuber.Animation
{
    /// <summary>
    /// A manual expression (an operator's <c>expression</c> command): <see cref="Expression"/> rises to
    /// <see cref="Weight"/> over <see cref="FadeS"/>, is held until <see cref="DurationS"/>, then falls back over
    /// <see cref="FadeS"/>; it is gone at <see cref="EndS"/>. While it lasts it overrides the emotion of whatever
    /// track plays, blended by the same envelope so neither side jumps.
    /// </summary>
    public sealed class ExpressionCue
    {
        public ExpressionCue(string expression, double weight, double durationS, double fadeS)
        {
            if (string.IsNullOrEmpty(expression)) throw new ArgumentException("an expression name is needed", "expression");
            Expression = expression;
            Weight = Math.Max(0.0, Math.Min(1.0, weight));
            DurationS = durationS > 0.0 ? durationS : 0.0;
            FadeS = fadeS > 0.0 ? fadeS : 0.0;
        }

        /// <summary>A VRM preset name (<see cref="TrackChannels.Emotions"/>), or a model's custom expression.</summary>
        public string Expression { get; private set; }

        public double Weight { get; private set; }
        public double DurationS { get; private set; }
        public double FadeS { get; private set; }

        public double EndS
        {
            get { return DurationS + FadeS; }
        }

        /// <summary>How much of the cue shows <paramref name="elapsedS"/> after it started, 0 to 1.</summary>
        public double Envelope(double elapsedS)
        {
            if (elapsedS < 0.0 || elapsedS >= EndS) return 0.0;
            if (FadeS <= 0.0) return 1.0;
            double rise = Math.Min(1.0, elapsedS / FadeS);
            double fall = elapsedS <= DurationS ? 1.0 : 1.0 - (elapsedS - DurationS) / FadeS;
            return Math.Max(0.0, Math.Min(rise, fall));
        }

        public bool IsOver(double elapsedS)
        {
            return elapsedS >= EndS;
        }

        /// <summary>
        /// Blend the cue into <paramref name="frame"/>'s emotions: the cue's expression toward <see cref="Weight"/>,
        /// the others toward 0. A custom expression (not a preset) only fades the presets out; the caller sets the
        /// custom one at <c>Weight * Envelope</c>.
        /// </summary>
        public void ApplyTo(FaceFrame frame, double elapsedS)
        {
            float amount = (float)Envelope(elapsedS);
            if (amount <= 0f) return;
            int own = TrackChannels.IndexOf(CurveGroup.Expressions, Expression);
            float[] weights = frame.Expressions;
            for (int i = 0; i < weights.Length; i++)
            {
                float target = i == own ? (float)Weight : 0f;
                weights[i] += (target - weights[i]) * amount;
            }
        }
    }
}
