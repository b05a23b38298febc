using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace VTuber.Animation
{
    /// <summary>The three curve groups of a track.</summary>
    public enum CurveGroup
    {
        Mouth,
        Visemes,
        Expressions,
    }

    /// <summary>
    /// Channel names of each group, in the backend's order (schemas/animation.py). Samples in a
    /// <see cref="FaceFrame"/> are indexed by these positions.
    /// </summary>
    public static class TrackChannels
    {
        /// <summary>VRM 1.0 mouth presets.</summary>
        public static readonly ReadOnlyCollection<string> MouthShapes = Names("aa", "ih", "ou", "ee", "oh");

        /// <summary>The 15 Oculus visemes, <c>sil</c> included.</summary>
        public static readonly ReadOnlyCollection<string> Visemes = Names(
            "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou");

        /// <summary>VRM 1.0 emotion presets.</summary>
        public static readonly ReadOnlyCollection<string> Emotions = Names(
            "happy", "angry", "sad", "relaxed", "surprised", "neutral");

        public static ReadOnlyCollection<string> Of(CurveGroup group)
        {
            switch (group)
            {
                case CurveGroup.Mouth:
                    return MouthShapes;
                case CurveGroup.Visemes:
                    return Visemes;
                case CurveGroup.Expressions:
                    return Emotions;
                default:
                    throw new ArgumentOutOfRangeException("group");
            }
        }

        /// <summary>The channel's position in its group, or -1 (names are case-sensitive: "E" is not "ee").</summary>
        public static int IndexOf(CurveGroup group, string name)
        {
            return Of(group).IndexOf(name);
        }

        static ReadOnlyCollection<string> Names(params string[] names)
        {
            return new ReadOnlyCollection<string>(new List<string>(names));
        }
    }
}
