namespace VTuber.Animation
{
    /// <summary>What an expression is to the player, for meeting another animation's weight for it.</summary>
    public enum FaceKeyKind
    {
        /// <summary><c>aa ih ou ee oh</c>: the speech's while a segment plays.</summary>
        Mouth,

        /// <summary><c>blink</c>: either source may close the eyes.</summary>
        Blink,

        /// <summary>The emotions, and a manual command's expression.</summary>
        Emotion,
    }

    /// <summary>
    /// How the player's face and an animation that writes the same expression keys (a VRM <c>.vrma</c> clip) share
    /// the avatar: the animation has the face whenever the player is not driving it (between turns, no manual
    /// expression); while it drives, the speech owns the mouth during a segment, a blink from either closes the eyes,
    /// and the player's emotions replace the animation's, or the larger of the two is shown.
    /// </summary>
    public static class AnimatedFaceBlend
    {
        /// <param name="kind">What the key is to the player.</param>
        /// <param name="own">The player's weight for the key this frame.</param>
        /// <param name="animated">The animation's weight for the key this frame.</param>
        /// <param name="driving">The player drives the face: a segment plays or a manual expression shows.</param>
        /// <param name="speaking">A segment plays.</param>
        /// <param name="emotionsTakeMax">Emotions show the larger weight instead of the player's.</param>
        public static float Combine(FaceKeyKind kind, float own, float animated, bool driving, bool speaking, bool emotionsTakeMax)
        {
            if (!driving) return animated;
            switch (kind)
            {
                case FaceKeyKind.Mouth:
                    return speaking ? own : animated;
                case FaceKeyKind.Blink:
                    return own > animated ? own : animated;
                default:
                    return emotionsTakeMax && animated > own ? animated : own;
            }
        }
    }
}
