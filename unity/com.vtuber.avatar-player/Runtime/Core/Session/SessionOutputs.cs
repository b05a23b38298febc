namespace VTuber.Animation
{
    /// <summary>
    /// What a <see cref="SessionPlayer{T}"/> asks of the audio side (in Unity: downloads with UnityWebRequest and a
    /// <c>VrmTrackPlayer</c>). Segments of all the session's turns are numbered by one <c>sequence</c>, in the order
    /// they are to be heard, from 0 and without gaps; after <see cref="DropFrom"/> numbering resumes at the dropped
    /// number.
    /// </summary>
    public interface ISessionStage<T>
    {
        /// <summary>Fetch the segment's audio, then call <c>AudioArrived</c> (or <c>AudioLost</c> after giving up).</summary>
        void Fetch(SegmentDownload download);

        /// <summary>Queue <paramref name="audio"/> after every lower sequence. <paramref name="track"/> is null when the face is not ready yet.</summary>
        void Play(int sequence, T audio, AnimationTrack track);

        /// <summary>The track of a segment already handed to <see cref="Play"/> without one (it may be playing).</summary>
        void AttachTrack(int sequence, AnimationTrack track);

        /// <summary>Stop <paramref name="sequence"/> and every later segment now and forget them (an interrupted or restarted turn).</summary>
        void DropFrom(int sequence);
    }

    /// <summary>Manual avatar commands (schemas/avatar.py) as the avatar applies them: implemented on the Unity side.</summary>
    public interface IAvatarControl
    {
        /// <summary>Show an expression for a while (it replaces a cue still showing).</summary>
        void SetExpression(ExpressionCue cue);

        /// <summary>Play a one-off gesture, e.g. an Animator trigger of the same name.</summary>
        void TriggerMotion(string motion);

        /// <summary>Turn the gaze to a point in metres, avatar space: +x right, +y up, +z forward. It stays until reset.</summary>
        void LookAt(double x, double y, double z);

        /// <summary>Back to neutral: no manual expression, motions stopped, looking ahead.</summary>
        void ResetPose();
    }
}
