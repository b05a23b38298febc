#if VTUBER_UNIVRM10
using System.Collections;
using UnityEngine;
using UniVRM10;
using VTuber.Animation;
using VTuber.Animation.Wire;

namespace VTuber.AvatarPlayer
{
    /// <summary>
    /// Plays a whole session on a VRM avatar: every turn the session's channel reports, whoever started it (viewer
    /// chat, the streamer's microphone, a verbatim line), in order, and the operator's manual commands at once.
    /// Wires a <see cref="SessionChannelClient"/> (events) to a <see cref="SessionPlayer{T}"/> (what to do), which
    /// this component serves: it downloads segment audio through a <see cref="JobClient"/>, plays it on a
    /// <see cref="VrmTrackPlayer"/>, and applies expression, motion, look-at and reset commands to the model.
    /// </summary>
    /// <remarks>
    /// Segments are numbered across turns (the session player's sequence), so the VrmTrackPlayer runs one
    /// endless turn: a segment starts as soon as its audio is in and the one before it has played, its face
    /// follows when its track arrives, and an interrupted turn stops mid-word.
    /// </remarks>
    [AddComponentMenu("VTuber/Session Avatar")]
    public sealed class SessionAvatar : MonoBehaviour, ISessionStage<AudioClip>, IAvatarControl
    {
        [SerializeField] SessionChannelClient channel;

        [Tooltip("Downloads the audio with its base URL and key (use the same as the channel's).")]
        [SerializeField] JobClient api;

        [SerializeField] VrmTrackPlayer player;

        [Tooltip("Blend time of an expression command that gives no fade_s.")]
        [SerializeField, Range(0f, 2f)] float defaultFadeSeconds = 0.3f;

        [Tooltip("Tries per segment audio before the segment is skipped.")]
        [SerializeField, Range(1, 10)] int downloadAttempts = 3;

        [SerializeField, Range(0.05f, 5f)] float retrySeconds = 0.5f;

        SessionPlayer<AudioClip> _session;
        Transform _gaze;

        /// <summary>Where the events come from. Set the three references before the component wakes (in the editor, or on an inactive GameObject).</summary>
        public SessionChannelClient Channel
        {
            get { return channel; }
            set { channel = value; }
        }

        /// <summary>Downloads the audio and cancels turns.</summary>
        public JobClient Api
        {
            get { return api; }
            set { api = value; }
        }

        public VrmTrackPlayer Player
        {
            get { return player; }
            set { player = value; }
        }

        /// <summary>The session as played so far: the current job, open turns, sequence numbers.</summary>
        public SessionPlayer<AudioClip> Session
        {
            get { return _session; }
        }

        void Awake()
        {
            _session = new SessionPlayer<AudioClip>(this, this) { DefaultFadeS = defaultFadeSeconds };
            if (channel == null || api == null || player == null)
            {
                Debug.LogError("SessionAvatar: set Channel, Api and Player", this);
                enabled = false;
            }
        }

        void OnEnable()
        {
            if (channel != null) channel.EventReceived += OnEvent;
        }

        void OnDisable()
        {
            if (channel != null) channel.EventReceived -= OnEvent;
        }

        void OnEvent(JobEventDto e)
        {
            _session.Apply(e);
        }

        /// <summary>
        /// Which turn is heard now and where in it: for <see cref="JobClient.CancelJob"/>, so the server keeps the
        /// words the listener actually heard. False between turns.
        /// </summary>
        public bool TryGetPlaybackPosition(out string jobId, out int segment, out double offsetS)
        {
            offsetS = 0.0;
            if (!_session.TryLocate(player.CurrentSegment, out jobId, out segment)) return false;
            offsetS = player.CurrentSegmentTime;
            return true;
        }

        void ISessionStage<AudioClip>.Fetch(SegmentDownload download)
        {
            StartCoroutine(Fetch(download));
        }

        IEnumerator Fetch(SegmentDownload download)
        {
            for (int attempt = 1; ; attempt++)
            {
                AudioClip clip = null;
                string error = null;
                yield return api.DownloadAudio(download.Url, download.JobId + " segment " + download.Index, c => clip = c, e => error = e);
                if (clip != null)
                {
                    if (!_session.AudioArrived(download, clip)) Destroy(clip); // the turn ended or restarted meanwhile
                    yield break;
                }
                if (attempt >= downloadAttempts)
                {
                    Debug.LogWarning("SessionAvatar: skipping " + download.JobId + " segment " + download.Index + ": " + error, this);
                    _session.AudioLost(download);
                    yield break;
                }
                yield return new WaitForSecondsRealtime(retrySeconds);
            }
        }

        void ISessionStage<AudioClip>.Play(int sequence, AudioClip audio, AnimationTrack track)
        {
            player.Enqueue(sequence, audio, track);
        }

        void ISessionStage<AudioClip>.AttachTrack(int sequence, AnimationTrack track)
        {
            player.AttachTrack(sequence, track);
        }

        void ISessionStage<AudioClip>.DropFrom(int sequence)
        {
            player.DropFrom(sequence);
        }

        void IAvatarControl.SetExpression(ExpressionCue cue)
        {
            player.SetExpressionCue(cue);
        }

        void IAvatarControl.TriggerMotion(string motion)
        {
            player.TriggerMotion(motion);
        }

        /// <summary>The model's own space is avatar space: a VRM 1.0 model faces +z with +x to its right.</summary>
        void IAvatarControl.LookAt(double x, double y, double z)
        {
            Vrm10Instance vrm = player.Vrm;
            if (vrm == null) return;
            if (_gaze == null)
            {
                _gaze = new GameObject("Session gaze target").transform;
                _gaze.SetParent(vrm.transform, false);
            }
            _gaze.localPosition = new Vector3((float)x, (float)y, (float)z);
            vrm.LookAtTargetType = VRM10ObjectLookAt.LookAtTargetTypes.SpecifiedTransform;
            vrm.LookAtTarget = _gaze;
        }

        void IAvatarControl.ResetPose()
        {
            player.ClearExpressionCue();
            player.ResetMotions();
            Vrm10Instance vrm = player.Vrm;
            if (vrm == null) return;
            vrm.LookAtTargetType = VRM10ObjectLookAt.LookAtTargetTypes.YawPitchValue;
            vrm.LookAtTarget = null;
            if (vrm.Runtime != null && vrm.Runtime.LookAt != null) vrm.Runtime.LookAt.SetYawPitchManually(0f, 0f); // ahead
        }
    }
}
#endif
