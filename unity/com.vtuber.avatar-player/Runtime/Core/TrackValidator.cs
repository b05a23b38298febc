using System;
using System.Collections.Generic;

namespace VTuber.Animation
{
    /// <summary>
    /// The guarantees of the backend's contract, checked on the client: a player refuses a track of another
    /// schema version (its meaning may have changed) and can log, rather than guess, anything malformed.
    /// </summary>
    public static class TrackValidator
    {
        // Times travel as JSON decimals and both sides compare the same doubles; the slack only absorbs
        // tracks built by hand.
        const double Epsilon = 1e-6;

        /// <summary>Every way the track breaks the contract; empty when it is playable as is.</summary>
        public static List<string> Problems(AnimationTrack track)
        {
            var problems = new List<string>();
            if (track == null)
            {
                problems.Add("no track");
                return problems;
            }
            if (track.SchemaVersion != AnimationTrack.SupportedSchemaVersion)
                problems.Add("schema_version '" + track.SchemaVersion + "' is not " + AnimationTrack.SupportedSchemaVersion);
            if (!(track.DurationS > 0.0))
            {
                problems.Add("duration_s must be > 0");
                return problems;
            }
            CheckGroup(track, CurveGroup.Mouth, problems);
            CheckGroup(track, CurveGroup.Visemes, problems);
            CheckGroup(track, CurveGroup.Expressions, problems);

            double previous = 0.0;
            foreach (Blink blink in track.Blinks)
            {
                if (!(blink.DurationS > 0.0) || blink.T < 0.0 || blink.EndT > track.DurationS + Epsilon)
                    problems.Add("blink at " + blink.T + " s lies outside the audio");
                if (blink.T < previous) problems.Add("blinks are not sorted by time");
                previous = blink.T;
            }
            previous = 0.0;
            foreach (MotionTrigger motion in track.Motions)
            {
                if (string.IsNullOrEmpty(motion.Name)) problems.Add("a motion has no name");
                if (motion.T < 0.0 || motion.T > track.DurationS + Epsilon)
                    problems.Add("motion '" + motion.Name + "' starts outside the audio");
                if (motion.T < previous) problems.Add("motions are not sorted by time");
                previous = motion.T;
            }
            return problems;
        }

        static void CheckGroup(AnimationTrack track, CurveGroup group, List<string> problems)
        {
            string prefix = group.ToString().ToLowerInvariant() + ".";
            foreach (string name in TrackChannels.Of(group))
            {
                Curve curve = track.GetCurve(group, name);
                if (curve == null || curve.Count == 0)
                {
                    problems.Add(prefix + name + " is missing");
                    continue;
                }
                if (Math.Abs(curve[0].T) > Epsilon || Math.Abs(curve[curve.Count - 1].T - track.DurationS) > Epsilon)
                    problems.Add(prefix + name + " must start at 0 and end at duration_s");
                for (int i = 0; i < curve.Count; i++)
                {
                    float w = curve[i].W;
                    if (!(w >= 0f && w <= 1f)) problems.Add(prefix + name + " has a weight outside [0, 1]");
                    if (i > 0 && !(curve[i].T > curve[i - 1].T)) problems.Add(prefix + name + " keyframe times must increase");
                }
            }
        }
    }
}
