// Field names are the wire's (snake_case, case-sensitive): Unity's JsonUtility and .NET's
// DataContractJsonSerializer both map [Serializable] public fields by name, so these classes parse the
// backend's JSON with either and no attributes.
// ReSharper disable InconsistentNaming
using System;
using System.Collections.Generic;

namespace VTuber.Animation.Wire
{
    [Serializable]
    public sealed class KeyframeDto
    {
        public double t;
        public double w;
    }

    [Serializable]
    public sealed class MouthDto
    {
        public KeyframeDto[] aa, ih, ou, ee, oh;

        public KeyframeDto[] ByName(string name)
        {
            switch (name)
            {
                case "aa": return aa;
                case "ih": return ih;
                case "ou": return ou;
                case "ee": return ee;
                case "oh": return oh;
                default: return null;
            }
        }
    }

    [Serializable]
    public sealed class VisemesDto
    {
        public KeyframeDto[] sil, PP, FF, TH, DD, kk, CH, SS, nn, RR, aa, E, ih, oh, ou;

        public KeyframeDto[] ByName(string name)
        {
            switch (name)
            {
                case "sil": return sil;
                case "PP": return PP;
                case "FF": return FF;
                case "TH": return TH;
                case "DD": return DD;
                case "kk": return kk;
                case "CH": return CH;
                case "SS": return SS;
                case "nn": return nn;
                case "RR": return RR;
                case "aa": return aa;
                case "E": return E;
                case "ih": return ih;
                case "oh": return oh;
                case "ou": return ou;
                default: return null;
            }
        }
    }

    [Serializable]
    public sealed class ExpressionsDto
    {
        public KeyframeDto[] happy, angry, sad, relaxed, surprised, neutral;

        public KeyframeDto[] ByName(string name)
        {
            switch (name)
            {
                case "happy": return happy;
                case "angry": return angry;
                case "sad": return sad;
                case "relaxed": return relaxed;
                case "surprised": return surprised;
                case "neutral": return neutral;
                default: return null;
            }
        }
    }

    [Serializable]
    public sealed class BlinkDto
    {
        public double t;
        public double duration_s;
    }

    [Serializable]
    public sealed class MotionTriggerDto
    {
        public string name;
        public double t;
    }

    /// <summary>The backend's AnimationTrack JSON (schemas/animation.py) as it travels.</summary>
    [Serializable]
    public sealed class AnimationTrackDto
    {
        public string schema_version;
        public double duration_s;
        public string source;
        public string emotion;
        public MouthDto mouth;
        public VisemesDto visemes;
        public ExpressionsDto expressions;
        public BlinkDto[] blinks;
        public MotionTriggerDto[] motions;

        /// <summary>
        /// False for a JSON <c>null</c>: JsonUtility never leaves a nested object null, it fills in an empty one
        /// (duration 0), which no real track has.
        /// </summary>
        public bool IsPresent
        {
            get { return duration_s > 0.0; }
        }

        /// <summary>The core track. A missing or empty curve stays missing, for <see cref="TrackValidator"/> to report.</summary>
        public AnimationTrack ToTrack()
        {
            var track = new AnimationTrack(schema_version, duration_s, source, emotion);
            foreach (string name in TrackChannels.MouthShapes)
                Put(track, CurveGroup.Mouth, name, mouth == null ? null : mouth.ByName(name));
            foreach (string name in TrackChannels.Visemes)
                Put(track, CurveGroup.Visemes, name, visemes == null ? null : visemes.ByName(name));
            foreach (string name in TrackChannels.Emotions)
                Put(track, CurveGroup.Expressions, name, expressions == null ? null : expressions.ByName(name));
            if (blinks != null)
            {
                foreach (BlinkDto blink in blinks) track.Blinks.Add(new Blink(blink.t, blink.duration_s));
            }
            if (motions != null)
            {
                foreach (MotionTriggerDto motion in motions) track.Motions.Add(new MotionTrigger(motion.name, motion.t));
            }
            return track;
        }

        static void Put(AnimationTrack track, CurveGroup group, string name, KeyframeDto[] keys)
        {
            if (keys == null || keys.Length == 0) return;
            var frames = new List<Keyframe>(keys.Length);
            foreach (KeyframeDto key in keys) frames.Add(new Keyframe(key.t, (float)key.w));
            track.SetCurve(group, name, new Curve(frames));
        }
    }
}
