#if VTUBER_UNIVRM10 && VTUBER_UNIVRM10_VRMA
using System;
using System.Collections.Generic;
using UnityEngine;
using UniVRM10;

namespace VTuber.AvatarPlayer
{
    /// <summary>
    /// Stands in for a .vrma animation (<c>Vrm10Runtime.VrmAnimation</c>) so that its expressions and the player's
    /// meet where UniVRM reads them: <c>Vrm10Runtime.Process()</c> writes every key of <see cref="ExpressionMap"/> over
    /// the input weights just before it applies them, so a weight set from outside never shows for those keys. Each
    /// key here asks the player (<see cref="VrmTrackPlayer.CombineWithAnimation"/>) with the animation's own value;
    /// the pose, the gaze and the rest are the animation's. <see cref="VrmTrackPlayer"/> installs it by itself.
    /// </summary>
    /// <remarks>
    /// Code that reads <c>Runtime.VrmAnimation</c> back gets this wrapper; <see cref="Inner"/> is the animation, and
    /// disposing the wrapper disposes it. Setting another animation is fine: the player wraps the new one.
    /// Implements <c>IVrm10Animation</c> as UniVRM 0.131 declares it.
    /// </remarks>
    public sealed class VrmAnimationFaceBridge : IVrm10Animation
    {
        readonly VrmTrackPlayer _player;
        readonly Dictionary<ExpressionKey, Func<float>> _expressions = new Dictionary<ExpressionKey, Func<float>>();
        IReadOnlyDictionary<ExpressionKey, Func<float>> _wrapped;

        public VrmAnimationFaceBridge(IVrm10Animation inner, VrmTrackPlayer player)
        {
            if (inner == null) throw new ArgumentNullException("inner");
            Inner = inner;
            _player = player;
        }

        /// <summary>The animation itself.</summary>
        public IVrm10Animation Inner { get; private set; }

        public (INormalizedPoseProvider, ITPoseProvider) ControlRig
        {
            get { return Inner.ControlRig; }
        }

        public IReadOnlyDictionary<ExpressionKey, Func<float>> ExpressionMap
        {
            get
            {
                IReadOnlyDictionary<ExpressionKey, Func<float>> map = Inner.ExpressionMap;
                if (!ReferenceEquals(map, _wrapped) || map == null || map.Count != _expressions.Count) Rewrap(map);
                return _expressions;
            }
        }

        public LookAtInput? LookAt
        {
            get { return Inner.LookAt; }
        }

        public void ShowBoxMan(bool enable)
        {
            Inner.ShowBoxMan(enable);
        }

        public void SetBoxManMaterial(Material material)
        {
            Inner.SetBoxManMaterial(material);
        }

        public void Dispose()
        {
            Inner.Dispose();
        }

        void Rewrap(IReadOnlyDictionary<ExpressionKey, Func<float>> map)
        {
            _wrapped = map;
            _expressions.Clear();
            if (map == null) return;
            foreach (KeyValuePair<ExpressionKey, Func<float>> pair in map)
            {
                ExpressionKey key = pair.Key;
                Func<float> animated = pair.Value;
                _expressions[key] = () =>
                {
                    float value = animated();
                    return _player != null ? _player.CombineWithAnimation(key, value) : value; // Unity null: player destroyed
                };
            }
        }
    }
}
#endif
