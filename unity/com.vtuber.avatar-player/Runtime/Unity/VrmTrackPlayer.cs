#if VTUBER_UNIVRM10
using System;
using System.Collections.Generic;
using UnityEngine;
using UnityEngine.Events;
using UniVRM10;
using VTuber.Animation;

namespace VTuber.AvatarPlayer
{
    [Serializable]
    public sealed class MotionEvent : UnityEvent<string>
    {
    }

    /// <summary>How the track's (or a manual) emotion meets a .vrma animation's weight for the same expression.</summary>
    public enum VrmaEmotionBlend
    {
        /// <summary>While the player drives the face, its emotion weights replace the animation's.</summary>
        PlayerWins,

        /// <summary>The larger of the two: an animated smile stays under a neutral line.</summary>
        Max,
    }

    /// <summary>
    /// Plays a turn's segments (audio + animation track) on a VRM 1.0 avatar. Segments are scheduled back to
    /// back on the DSP clock with <see cref="AudioSource.PlayScheduled"/> over two alternating voices, so the
    /// speech has no gaps; every frame the face is sampled at the playing voice's own play head (its
    /// <c>AudioSource.time</c>, sample-accurate) and written to UniVRM in one call. Motion tags fire once, as
    /// Animator triggers of the same name (when the controller has one) and through <see cref="OnMotion"/>.
    /// A session (<see cref="SessionAvatar"/>) also drops an interrupted turn's segments (<see cref="DropFrom"/>),
    /// gives a segment its track after its audio started (<see cref="AttachTrack"/>) and lays manual expressions
    /// over the track's (<see cref="SetExpressionCue"/>).
    /// </summary>
    /// <remarks>
    /// <para>
    /// The face is written just before UniVRM applies expressions, in the same frame, whatever the model's
    /// <see cref="Vrm10Instance.UpdateType"/>: <c>Vrm10Instance.Runtime.Process()</c> copies the input weights to
    /// the meshes, in <c>Vrm10Instance.Update</c> or <c>LateUpdate</c> at execution order 11000. This player runs at
    /// order <see cref="ExecutionOrder"/> (after ordinary scripts, before UniVRM) and samples in Update when the
    /// model updates in Update, in LateUpdate otherwise. With <c>UpdateTypes.None</c> the application calls
    /// <c>Process()</c> itself: call <see cref="ApplyFace"/> right before it.
    /// </para>
    /// <para>
    /// A <c>.vrma</c> animation set as <c>Vrm10Runtime.VrmAnimation</c> writes the expressions it maps inside
    /// <c>Process()</c>, over any weight set before. So the player wraps it (<see cref="VrmAnimationFaceBridge"/>,
    /// UniVRM 0.131 or later): for each key the animation maps, <c>Process()</c> gets the speech mouth while a segment
    /// plays, the larger blink of the two, the track's or a manual expression while they drive the face (or the larger,
    /// see <see cref="VrmaEmotionBlend"/>), and the animation's own value otherwise.
    /// </para>
    /// Needs UniVRM (com.vrmc.vrm) 0.114 or later for <c>SetWeightsNonAlloc</c>.
    /// </remarks>
    [AddComponentMenu("VTuber/VRM Track Player")]
    [DisallowMultipleComponent]
    [DefaultExecutionOrder(ExecutionOrder)]
    public sealed class VrmTrackPlayer : MonoBehaviour
    {
        /// <summary>After scripts at the default order (0) that set expressions, before Vrm10Instance (11000).</summary>
        public const int ExecutionOrder = 10900;

        // Same order as TrackChannels.MouthShapes and TrackChannels.Emotions.
        static readonly ExpressionKey[] MouthKeys =
            { ExpressionKey.Aa, ExpressionKey.Ih, ExpressionKey.Ou, ExpressionKey.Ee, ExpressionKey.Oh };

        static readonly ExpressionKey[] EmotionKeys =
        {
            ExpressionKey.Happy, ExpressionKey.Angry, ExpressionKey.Sad, ExpressionKey.Relaxed,
            ExpressionKey.Surprised, ExpressionKey.Neutral,
        };

        [SerializeField] Vrm10Instance vrm;

        [Tooltip("Audio sources that take turns: one plays while the next segment waits. Two are created when empty.")]
        [SerializeField] AudioSource[] voices = new AudioSource[0];

        [Tooltip("Optional. A motion tag fires the Animator trigger of the same name, if the controller has one.")]
        [SerializeField] Animator animator;

        [Tooltip("How far ahead a segment that is ready late is scheduled; the audio engine needs a moment to start it.")]
        [SerializeField, Range(0.02f, 0.5f)] float scheduleLeadSeconds = 0.1f;

        [SerializeField] MotionEvent onMotion = new MotionEvent();

        [Tooltip("With a .vrma animation on the model: how a track's or a manual emotion meets the animation's for the same key.")]
        [SerializeField] VrmaEmotionBlend vrmaEmotionBlend = VrmaEmotionBlend.PlayerWins;

        readonly Dictionary<ExpressionKey, float> _weights = new Dictionary<ExpressionKey, float>();
        readonly FaceFrame _frame = new FaceFrame();
        readonly List<MotionCue> _fired = new List<MotionCue>();
        readonly HashSet<string> _animatorTriggers = new HashSet<string>();
        readonly List<QueuedSegment<AudioClip>> _dropped = new List<QueuedSegment<AudioClip>>();
        RuntimeAnimatorController _triggersOf;
        SegmentQueue<AudioClip> _queue;
        bool _driving;
        ExpressionCue _cue;
        double _cueStart;
        ExpressionKey? _customKey; // a cue's expression that is not one of the presets the track drives
        int _stepFrame = -1;
        bool _speaking; // a segment plays this frame: the mouth is the speech's
#if VTUBER_UNIVRM10_VRMA
        VrmAnimationFaceBridge _bridge;
#endif

        /// <summary>After each applied frame: the full face, visemes included, for other rigs or UI.</summary>
        public event Action<FaceFrame> FaceSampled;

        /// <summary>Motion tags as they come due, once each.</summary>
        public MotionEvent OnMotion
        {
            get { return onMotion; }
        }

        public PlaybackState State { get; private set; }

        /// <summary>Index of the segment playing now, or -1.</summary>
        public int CurrentSegment { get; private set; }

        /// <summary>Seconds into <see cref="CurrentSegment"/>'s audio, as of the last frame.</summary>
        public double CurrentSegmentTime { get; private set; }

        public Vrm10Instance Vrm
        {
            get { return vrm; }
            set { vrm = value; }
        }

        /// <summary>Optional: motions fire its triggers of the same name.</summary>
        public Animator Animator
        {
            get { return animator; }
            set { animator = value; }
        }

        void Awake()
        {
            if (voices == null || voices.Length == 0)
                voices = new[] { CreateVoice(), CreateVoice() };
            _queue = new SegmentQueue<AudioClip>(voices.Length);
            _frame.Clear();
            CurrentSegment = -1;
        }

        /// <summary>Start a new turn: stop what plays and forget what was queued.</summary>
        public void BeginTurn()
        {
            foreach (AudioSource voice in voices) voice.Stop();
            _queue = new SegmentQueue<AudioClip>(voices.Length);
        }

        /// <summary>
        /// Queue segment <paramref name="index"/> of the turn, in any order. A track that breaks the contract (or
        /// a null one) is replaced by a resting face: the audio still plays. False for a duplicate or stale index.
        /// </summary>
        public bool Enqueue(int index, AudioClip clip, AnimationTrack track)
        {
            if (clip == null) throw new ArgumentNullException("clip");
            if (track != null)
            {
                List<string> problems = TrackValidator.Problems(track);
                if (problems.Count > 0)
                {
                    Debug.LogWarning("VrmTrackPlayer: segment " + index + " track ignored: " + string.Join("; ", problems.ToArray()), this);
                    track = null;
                }
            }
            return _queue.Add(index, clip.samples / (double)clip.frequency, track, clip);
        }

        /// <summary>The turn has <paramref name="totalSegments"/> segments; State becomes Finished after the last.</summary>
        public void EndTurn(int totalSegments)
        {
            _queue.Complete(totalSegments);
        }

        /// <summary>Silence and a resting face now.</summary>
        public void Stop()
        {
            BeginTurn();
            _queue.Complete(0);
        }

        /// <summary>
        /// The track of segment <paramref name="index"/>, queued earlier without one, arrived: the face follows it from
        /// now on (motions already due fire at once). False when the segment is gone or the track breaks the contract.
        /// </summary>
        public bool AttachTrack(int index, AnimationTrack track)
        {
            if (track == null) return false;
            List<string> problems = TrackValidator.Problems(track);
            if (problems.Count > 0)
            {
                Debug.LogWarning("VrmTrackPlayer: segment " + index + " track ignored: " + string.Join("; ", problems.ToArray()), this);
                return false;
            }
            return _queue.SetTrack(index, track);
        }

        /// <summary>
        /// Stop segment <paramref name="index"/> and every later one now and forget them (an interrupted turn); earlier
        /// segments play on, and the next <see cref="Enqueue"/> is <paramref name="index"/>.
        /// </summary>
        public void DropFrom(int index)
        {
            _dropped.Clear();
            _queue.DropFrom(index, _dropped);
            foreach (QueuedSegment<AudioClip> segment in _dropped)
            {
                AudioSource voice = voices[segment.Voice];
                if (voice.clip == segment.Payload) voice.Stop();
            }
        }

        /// <summary>Show a manual expression over whatever plays (see <see cref="ExpressionCue"/>); it replaces one still showing.</summary>
        public void SetExpressionCue(ExpressionCue cue)
        {
            _cue = cue;
            _cueStart = Time.unscaledTimeAsDouble;
        }

        public void ClearExpressionCue()
        {
            _cue = null;
        }

        /// <summary>A motion now: the Animator trigger of that name if the controller has one, and <see cref="OnMotion"/>.</summary>
        public void TriggerMotion(string motion)
        {
            if (!string.IsNullOrEmpty(motion)) Fire(motion);
        }

        /// <summary>Stop gestures: pending triggers are cleared and the Animator goes back to its entry state.</summary>
        public void ResetMotions()
        {
            if (animator == null || animator.runtimeAnimatorController == null) return;
            if (_triggersOf != animator.runtimeAnimatorController) CacheTriggers();
            foreach (string trigger in _animatorTriggers) animator.ResetTrigger(trigger);
            animator.Rebind();
            animator.Update(0f);
        }

        void Update()
        {
            double now = AudioSettings.dspTime;
            QueuedSegment<AudioClip> next;
            while ((next = _queue.ScheduleNext(now, scheduleLeadSeconds)) != null)
            {
                AudioSource voice = voices[next.Voice];
                voice.clip = next.Payload;
                voice.PlayScheduled(next.StartTime);
            }
            // UniVRM applies expressions in its own Update (order 11000), after this one.
            if (vrm != null && vrm.UpdateType == Vrm10Instance.UpdateTypes.Update) ApplyFace();
        }

        void LateUpdate()
        {
            ApplyFace(); // once per frame: nothing more when Update, or the application, already did
        }

        /// <summary>
        /// Sample the face for this frame and hand it to UniVRM, once per frame (later calls do nothing). The player
        /// calls it itself; with <c>Vrm10Instance.UpdateType = None</c> call it right before your
        /// <c>vrm.Runtime.Process()</c>, so the weights show in this frame rather than the next.
        /// </summary>
        public void ApplyFace()
        {
            if (_stepFrame == Time.frameCount) return;
            _stepFrame = Time.frameCount;
            _fired.Clear();
            PlaybackPosition<AudioClip> position = _queue.Advance(AudioSettings.dspTime, _fired);
            State = position.State;
            CurrentSegment = position.Segment != null ? position.Segment.Index : -1;
            double playHead = position.Segment != null ? PlayHead(position) : 0.0;
            CurrentSegmentTime = playHead;
            double cueTime = Time.unscaledTimeAsDouble - _cueStart;
            if (_cue != null && _cue.IsOver(cueTime)) _cue = null;
            // Between turns the face is left alone (after one rest frame), so an idle blinker or another
            // expression source can drive it; a manual expression drives it while it lasts.
            bool active = position.Segment != null || _cue != null;
            bool drive = active || _driving;
            _driving = active;
            _speaking = position.Segment != null;
            if (drive)
            {
                if (position.Segment != null && position.Segment.Track != null)
                    TrackSampler.Sample(position.Segment.Track, playHead, _frame);
                else
                    _frame.Clear();
                if (_cue != null) _cue.ApplyTo(_frame, cueTime);
                Apply(_frame);
                if (FaceSampled != null) FaceSampled(_frame);
            }
            for (int i = 0; i < _fired.Count; i++) Fire(_fired[i].Name);
        }

        /// <summary>Seconds into the segment: the voice's play head once it runs, the DSP schedule before.</summary>
        double PlayHead(PlaybackPosition<AudioClip> position)
        {
            AudioSource voice = voices[position.Segment.Voice];
            AudioClip clip = position.Segment.Payload;
            if (voice.isPlaying && voice.clip == clip && voice.timeSamples > 0)
                return voice.timeSamples / (double)clip.frequency; // AudioSource.time, without float rounding
            return position.LocalTime;
        }

        /// <summary>
        /// The weight this player gives <paramref name="key"/> in this frame, combined with <paramref name="animated"/>,
        /// a .vrma animation's weight for the same key (see the remarks on the class). The animation's alone when the
        /// player has nothing to say about the key now.
        /// </summary>
        internal float CombineWithAnimation(ExpressionKey key, float animated)
        {
            float own;
            if (!_weights.TryGetValue(key, out own)) return animated; // not a key this player drives
            FaceKeyKind kind = FaceKeyKind.Emotion;
            if (key.Equals(ExpressionKey.Blink)) kind = FaceKeyKind.Blink;
            for (int i = 0; i < MouthKeys.Length; i++)
            {
                if (key.Equals(MouthKeys[i])) kind = FaceKeyKind.Mouth;
            }
            return AnimatedFaceBlend.Combine(kind, own, animated, _driving, _speaking, vrmaEmotionBlend == VrmaEmotionBlend.Max);
        }

        void Apply(FaceFrame frame)
        {
            if (vrm == null || vrm.Vrm == null) return;
            WrapVrmAnimation();
            for (int i = 0; i < MouthKeys.Length; i++) _weights[MouthKeys[i]] = frame.Mouth[i];
            for (int i = 0; i < EmotionKeys.Length; i++) _weights[EmotionKeys[i]] = frame.Expressions[i];
            _weights[ExpressionKey.Blink] = frame.Blink;
            ExpressionKey? custom = null;
            if (_cue != null && TrackChannels.IndexOf(CurveGroup.Expressions, _cue.Expression) < 0)
                custom = ExpressionKey.CreateCustom(_cue.Expression);
            if (_customKey.HasValue && !_customKey.Equals(custom)) _weights[_customKey.Value] = 0f; // its cue ended: once more, at rest
            if (custom.HasValue) _weights[custom.Value] = (float)(_cue.Weight * _cue.Envelope(Time.unscaledTimeAsDouble - _cueStart));
            vrm.Runtime.Expression.SetWeightsNonAlloc(_weights);
            if (_customKey.HasValue && !_customKey.Equals(custom)) _weights.Remove(_customKey.Value);
            _customKey = custom;
        }

        // A .vrma animation overwrites the keys it maps inside Runtime.Process: give it our weights to write instead.
        void WrapVrmAnimation()
        {
#if VTUBER_UNIVRM10_VRMA
            IVrm10Animation animation = vrm.Runtime.VrmAnimation;
            if (animation == null || animation is VrmAnimationFaceBridge) return;
            if (_bridge == null || _bridge.Inner != animation) _bridge = new VrmAnimationFaceBridge(animation, this);
            vrm.Runtime.VrmAnimation = _bridge; // also when the application put its animation back unwrapped
#endif
        }

        void Fire(string motion)
        {
            if (animator != null && animator.runtimeAnimatorController != null)
            {
                if (_triggersOf != animator.runtimeAnimatorController) CacheTriggers();
                if (_animatorTriggers.Contains(motion)) animator.SetTrigger(motion);
            }
            onMotion.Invoke(motion);
        }

        // Animator.parameters allocates: read it once per controller, not per motion.
        void CacheTriggers()
        {
            _triggersOf = animator.runtimeAnimatorController;
            _animatorTriggers.Clear();
            foreach (AnimatorControllerParameter parameter in animator.parameters)
            {
                if (parameter.type == AnimatorControllerParameterType.Trigger) _animatorTriggers.Add(parameter.name);
            }
        }

        AudioSource CreateVoice()
        {
            AudioSource voice = gameObject.AddComponent<AudioSource>();
            voice.playOnAwake = false;
            voice.loop = false;
            return voice;
        }

#if UNITY_EDITOR
        void OnValidate()
        {
            // The key tables above must follow the core's channel order.
            for (int i = 0; i < MouthKeys.Length; i++)
                Debug.Assert(MouthKeys[i].Name == TrackChannels.MouthShapes[i], "mouth key order");
            for (int i = 0; i < EmotionKeys.Length; i++)
                Debug.Assert(EmotionKeys[i].Name == TrackChannels.Emotions[i], "emotion key order");
        }
#endif
    }
}
#endif
