// Signatures of UniVRM 0.131's VRM 1.0 runtime (com.vrmc.vrm, namespace UniVRM10) that the package calls, read
// from UniVRM's own sources (Packages/VRM10/Runtime: Vrm10Instance, Vrm10Runtime, Vrm10RuntimeExpression,
// Vrm10RuntimeLookAt, ExpressionKey, IVrm10Animation, VRM10ObjectLookAt), bodies empty. Compiled with the Unity
// layer by tests/integration/test_unity_package.py; nothing here runs.
#pragma warning disable 0067, 0649
using System;
using System.Collections.Generic;
using UnityEngine;

namespace UniVRM10
{
    public enum ExpressionPreset
    {
        custom, happy, angry, sad, relaxed, surprised, aa, ih, ou, ee, oh, blink, blinkLeft, blinkRight,
        lookUp, lookDown, lookLeft, lookRight, neutral,
    }

    [Serializable]
    public readonly struct ExpressionKey : IEquatable<ExpressionKey>, IComparable<ExpressionKey>
    {
        public readonly ExpressionPreset Preset;
        public readonly string Name;

        public ExpressionKey(ExpressionPreset preset, string customName = null)
        {
            Preset = preset;
            Name = preset == ExpressionPreset.custom ? customName : preset.ToString();
        }

        public static ExpressionKey CreateCustom(string key) { return new ExpressionKey(ExpressionPreset.custom, key); }
        public static ExpressionKey CreateFromPreset(ExpressionPreset preset) { return new ExpressionKey(preset); }

        public static ExpressionKey Happy => CreateFromPreset(ExpressionPreset.happy);
        public static ExpressionKey Angry => CreateFromPreset(ExpressionPreset.angry);
        public static ExpressionKey Sad => CreateFromPreset(ExpressionPreset.sad);
        public static ExpressionKey Relaxed => CreateFromPreset(ExpressionPreset.relaxed);
        public static ExpressionKey Surprised => CreateFromPreset(ExpressionPreset.surprised);
        public static ExpressionKey Aa => CreateFromPreset(ExpressionPreset.aa);
        public static ExpressionKey Ih => CreateFromPreset(ExpressionPreset.ih);
        public static ExpressionKey Ou => CreateFromPreset(ExpressionPreset.ou);
        public static ExpressionKey Ee => CreateFromPreset(ExpressionPreset.ee);
        public static ExpressionKey Oh => CreateFromPreset(ExpressionPreset.oh);
        public static ExpressionKey Blink => CreateFromPreset(ExpressionPreset.blink);
        public static ExpressionKey Neutral => CreateFromPreset(ExpressionPreset.neutral);

        public bool Equals(ExpressionKey other) { return Preset == other.Preset && Name == other.Name; }
        public override bool Equals(object obj) { return obj is ExpressionKey && Equals((ExpressionKey)obj); }
        public override int GetHashCode() { return 0; }
        public int CompareTo(ExpressionKey other) { return Preset - other.Preset; }
    }

    public interface INormalizedPoseProvider
    {
    }

    public interface ITPoseProvider
    {
    }

    public struct LookAtInput
    {
        public Vector3? WorldPosition;
    }

    public interface IVrm10Animation : IDisposable
    {
        (INormalizedPoseProvider, ITPoseProvider) ControlRig { get; }
        IReadOnlyDictionary<ExpressionKey, Func<float>> ExpressionMap { get; }
        void ShowBoxMan(bool enable);
        void SetBoxManMaterial(Material material);
        LookAtInput? LookAt { get; }
    }

    public sealed class Vrm10RuntimeExpression : IDisposable
    {
        public void SetWeightsNonAlloc(Dictionary<ExpressionKey, float> weights) { }
        public void SetWeight(ExpressionKey expressionKey, float weight) { }
        public void Dispose() { }
    }

    public class Vrm10RuntimeLookAt
    {
        public void SetYawPitchManually(float yaw, float pitch) { }
    }

    public class Vrm10Runtime : IDisposable
    {
        public Vrm10RuntimeExpression Expression { get { return null; } }
        public Vrm10RuntimeLookAt LookAt { get { return null; } }
        public IVrm10Animation VrmAnimation { get; set; }

        public void Process() { }
        public void Dispose() { }
    }

    public class VRM10Object : ScriptableObjectStandIn
    {
    }

    /// <summary>UnityEngine.ScriptableObject, which nothing else here needs.</summary>
    public class ScriptableObjectStandIn : UnityEngine.Object
    {
    }

    [Serializable]
    public class VRM10ObjectLookAt
    {
        public enum LookAtTargetTypes
        {
            SpecifiedTransform = 0,
            YawPitchValue = 1,
        }
    }

    [DefaultExecutionOrder(11000)]
    public class Vrm10Instance : MonoBehaviour
    {
        public enum UpdateTypes
        {
            None,
            Update,
            LateUpdate,
        }

        public VRM10Object Vrm;
        public UpdateTypes UpdateType = UpdateTypes.LateUpdate;
        public Transform LookAtTarget;
        public VRM10ObjectLookAt.LookAtTargetTypes LookAtTargetType;

        public Vrm10Runtime Runtime { get { return null; } }
    }
}
