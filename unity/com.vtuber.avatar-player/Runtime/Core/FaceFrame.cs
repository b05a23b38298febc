using System;

namespace VTuber.Animation
{
    /// <summary>
    /// The face at one instant: every channel's weight, indexed as in <see cref="TrackChannels"/>. Allocated
    /// once and refilled every frame so playback makes no garbage.
    /// </summary>
    public sealed class FaceFrame
    {
        public readonly float[] Mouth = new float[TrackChannels.MouthShapes.Count];
        public readonly float[] Visemes = new float[TrackChannels.Visemes.Count];
        public readonly float[] Expressions = new float[TrackChannels.Emotions.Count];

        /// <summary>Weight of the VRM <c>blink</c> expression.</summary>
        public float Blink;

        public float[] Weights(CurveGroup group)
        {
            switch (group)
            {
                case CurveGroup.Mouth:
                    return Mouth;
                case CurveGroup.Visemes:
                    return Visemes;
                case CurveGroup.Expressions:
                    return Expressions;
                default:
                    throw new ArgumentOutOfRangeException("group");
            }
        }

        /// <summary>The named channel's weight (convenient in tests and tools; index the arrays per frame).</summary>
        public float Get(CurveGroup group, string name)
        {
            int index = TrackChannels.IndexOf(group, name);
            if (index < 0) throw new ArgumentException("unknown " + group + " channel '" + name + "'", "name");
            return Weights(group)[index];
        }

        /// <summary>A rest face: mouth closed, no expression, eyes open (the <c>sil</c> viseme is the rest pose).</summary>
        public void Clear()
        {
            Array.Clear(Mouth, 0, Mouth.Length);
            Array.Clear(Visemes, 0, Visemes.Length);
            Array.Clear(Expressions, 0, Expressions.Length);
            Visemes[TrackChannels.Visemes.IndexOf("sil")] = 1f;
            Blink = 0f;
        }
    }
}
