using System;
using System.Collections.Generic;

namespace VTuber.Animation
{
    /// <summary>
    /// Face and body animation for one audio segment (the backend's <c>AnimationTrack</c>, schema 1.0), played
    /// against the segment's audio clock. Plain data: parsing lives in <c>VTuber.Animation.Wire</c>, checks in
    /// <see cref="TrackValidator"/>, playback in <see cref="TrackSampler"/>.
    /// </summary>
    public sealed class AnimationTrack
    {
        /// <summary>The one schema version this player understands; the backend bumps it on any client-facing change.</summary>
        public const string SupportedSchemaVersion = "1.0";

        readonly Curve[] _mouth = new Curve[TrackChannels.MouthShapes.Count];
        readonly Curve[] _visemes = new Curve[TrackChannels.Visemes.Count];
        readonly Curve[] _expressions = new Curve[TrackChannels.Emotions.Count];
        readonly List<Blink> _blinks = new List<Blink>();
        readonly List<MotionTrigger> _motions = new List<MotionTrigger>();

        public AnimationTrack(string schemaVersion, double durationS, string source, string emotion)
        {
            SchemaVersion = schemaVersion;
            DurationS = durationS;
            Source = source;
            Emotion = emotion;
        }

        public string SchemaVersion { get; private set; }

        /// <summary>Length of the audio segment, seconds; every curve ends here.</summary>
        public double DurationS { get; private set; }

        /// <summary><c>alignment</c> (the TTS engine's phoneme timings) or <c>energy</c> (estimated from loudness).</summary>
        public string Source { get; private set; }

        /// <summary>The emotion preset this segment expresses.</summary>
        public string Emotion { get; private set; }

        /// <summary>Sorted by start time.</summary>
        public List<Blink> Blinks
        {
            get { return _blinks; }
        }

        /// <summary>Sorted by time.</summary>
        public List<MotionTrigger> Motions
        {
            get { return _motions; }
        }

        public void SetCurve(CurveGroup group, string name, Curve curve)
        {
            Curves(group)[RequireIndex(group, name)] = curve;
        }

        /// <summary>The named curve, or null when the track has none.</summary>
        public Curve GetCurve(CurveGroup group, string name)
        {
            return Curves(group)[RequireIndex(group, name)];
        }

        /// <summary>The curve at the channel's position in <see cref="TrackChannels"/>, or null.</summary>
        public Curve GetCurve(CurveGroup group, int index)
        {
            return Curves(group)[index];
        }

        Curve[] Curves(CurveGroup group)
        {
            switch (group)
            {
                case CurveGroup.Mouth:
                    return _mouth;
                case CurveGroup.Visemes:
                    return _visemes;
                case CurveGroup.Expressions:
                    return _expressions;
                default:
                    throw new ArgumentOutOfRangeException("group");
            }
        }

        static int RequireIndex(CurveGroup group, string name)
        {
            int index = TrackChannels.IndexOf(group, name);
            if (index < 0) throw new ArgumentException("unknown " + group + " channel '" + name + "'", "name");
            return index;
        }
    }
}
