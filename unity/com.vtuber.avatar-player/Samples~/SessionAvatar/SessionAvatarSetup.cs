#if VTUBER_UNIVRM10
using System.Collections;
using System.Collections.Generic;
using UnityEngine;
using UniVRM10;
using VTuber.Animation.Wire;

namespace VTuber.AvatarPlayer.Samples
{
    /// <summary>
    /// The session-channel mode in one component: put it in a scene with a VRM 1.0 model, fill in the API's URL and a
    /// key, press Play. It builds the rig at run time (<see cref="JobClient"/>, <see cref="SessionChannelClient"/>,
    /// <see cref="VrmTrackPlayer"/>, <see cref="SessionAvatar"/>), opens a session when none is given, and the model
    /// then speaks every turn of the session whoever starts it, follows the operator's avatar commands, and shows the
    /// line being heard as a subtitle. <see cref="Interrupt"/> (hook it to a button) cuts the current turn off.
    /// </summary>
    public sealed class SessionAvatarSetup : MonoBehaviour
    {
        [SerializeField] Vrm10Instance model;

        [Tooltip("Optional: an Animator whose triggers are named like the persona's motions (wave, nod, ...).")]
        [SerializeField] Animator gestures;

        [SerializeField] string baseUrl = "http://localhost:8000";

        [Tooltip("python -m tools.cli keys create --name unity")]
        [SerializeField] string apiKey = "";

        [Tooltip("The session to play; empty opens a new one (with the persona below) that this key owns.")]
        [SerializeField] string sessionId = "";

        [Tooltip("Persona of a new session; empty for the server's default.")]
        [SerializeField] string persona = "";

        [SerializeField] bool showSubtitles = true;

        readonly Dictionary<string, string> _lines = new Dictionary<string, string>(); // "job/index" → text
        JobClient _api;
        SessionChannelClient _channel;
        SessionAvatar _avatar;

        /// <summary>The session being played, once known.</summary>
        public string SessionId { get; private set; }

        IEnumerator Start()
        {
            if (model == null)
            {
                Debug.LogError("SessionAvatarSetup: set Model to the scene's Vrm10Instance", this);
                yield break;
            }
            BuildRig();
            string session = sessionId;
            if (string.IsNullOrEmpty(session))
            {
                yield return _api.CreateSession(persona, created => session = created.id, error => Debug.LogError(error, this));
                if (string.IsNullOrEmpty(session)) yield break;
            }
            SessionId = session;
            Debug.Log("Playing session " + session + ". Make it speak: POST " + baseUrl + "/v1/sessions/" + session + "/speak", this);
            _channel.Connect(session);
        }

        void BuildRig()
        {
            var rig = new GameObject("Session avatar rig");
            rig.SetActive(false); // Awake waits until the references are in
            rig.transform.SetParent(transform, false);
            _api = rig.AddComponent<JobClient>();
            _api.BaseUrl = baseUrl;
            _api.ApiKey = apiKey;
            _channel = rig.AddComponent<SessionChannelClient>();
            _channel.BaseUrl = baseUrl;
            _channel.ApiKey = apiKey;
            _channel.ConnectOnStart = false; // Start connects once the session is known
            var player = rig.AddComponent<VrmTrackPlayer>();
            player.Vrm = model;
            player.Animator = gestures;
            _avatar = rig.AddComponent<SessionAvatar>();
            _avatar.Channel = _channel;
            _avatar.Api = _api;
            _avatar.Player = player;
            _channel.EventReceived += Remember;
            _channel.GaveUp += reason => Debug.LogError("Session channel gave up: " + reason, this);
            rig.SetActive(true);
        }

        // Subtitles: every segment's text is announced (segment.queued) before its audio plays.
        void Remember(JobEventDto e)
        {
            if (e.type == JobEventType.SegmentQueued && !string.IsNullOrEmpty(e.segment.text))
                _lines[e.job_id + "/" + e.segment.index] = e.segment.text;
        }

        /// <summary>
        /// Barge-in: cut off the turn being heard; the server keeps the words heard so far. Needs a key that owns the
        /// session (or an admin key).
        /// </summary>
        public void Interrupt()
        {
            string job;
            int segment;
            double offset;
            if (_avatar == null || !_avatar.TryGetPlaybackPosition(out job, out segment, out offset)) return;
            StartCoroutine(_api.CancelJob(job, segment, offset, () => { }, error => Debug.LogWarning(error, this)));
        }

        void OnGUI()
        {
            string job;
            int segment;
            double offset;
            string line;
            if (!showSubtitles || _avatar == null || !_avatar.TryGetPlaybackPosition(out job, out segment, out offset)) return;
            if (!_lines.TryGetValue(job + "/" + segment, out line)) return;
            var style = new GUIStyle(GUI.skin.box) { fontSize = 24, wordWrap = true };
            GUI.Box(new Rect(20, Screen.height - 100, Screen.width - 40, 80), line, style);
        }
    }
}
#endif
