// Signatures of the UnityEngine API that the package's Runtime/Unity and Samples~ call, as Unity 2021.3/2022.3
// declare them, with empty bodies: tests/integration/test_unity_package.py compiles the Unity layer against
// these with Mono, so a misspelt member or a wrong argument fails outside Unity too. Nothing here runs.
// Add a member only as Unity's scripting reference declares it.
#pragma warning disable 0067, 0649
using System;
using System.Collections;

namespace UnityEngine
{
    public class Object
    {
        public string name { get; set; }

        public static void Destroy(Object obj) { }

        public static bool operator ==(Object a, Object b) { return ReferenceEquals(a, b); }

        public static bool operator !=(Object a, Object b) { return !ReferenceEquals(a, b); }

        public static implicit operator bool(Object exists) { return !ReferenceEquals(exists, null); }

        public override bool Equals(object other) { return ReferenceEquals(this, other); }

        public override int GetHashCode() { return 0; }
    }

    public class Component : Object
    {
        public GameObject gameObject { get { return null; } }
        public Transform transform { get { return null; } }

        public T GetComponent<T>() { return default(T); }
    }

    public class Behaviour : Component
    {
        public bool enabled { get; set; }
    }

    public class YieldInstruction
    {
    }

    public sealed class Coroutine : YieldInstruction
    {
    }

    public class AsyncOperation : YieldInstruction
    {
        public bool isDone { get { return false; } }
    }

    public sealed class WaitForSeconds : YieldInstruction
    {
        public WaitForSeconds(float seconds) { }
    }

    public class CustomYieldInstruction : IEnumerator
    {
        public virtual bool keepWaiting { get { return false; } }
        public object Current { get { return null; } }
        public bool MoveNext() { return keepWaiting; }
        public void Reset() { }
    }

    public class WaitForSecondsRealtime : CustomYieldInstruction
    {
        public WaitForSecondsRealtime(float time) { }
    }

    public class MonoBehaviour : Behaviour
    {
        public Coroutine StartCoroutine(IEnumerator routine) { return null; }
    }

    public sealed class GameObject : Object
    {
        public GameObject(string name) { }

        public Transform transform { get { return null; } }

        public void SetActive(bool value) { }

        public T AddComponent<T>() where T : Component { return null; }
    }

    public class Transform : Component
    {
        public Vector3 localPosition { get; set; }
        public Vector3 position { get; set; }

        public void SetParent(Transform parent, bool worldPositionStays) { }
    }

    public struct Vector3
    {
        public float x, y, z;

        public Vector3(float x, float y, float z)
        {
            this.x = x;
            this.y = y;
            this.z = z;
        }
    }

    public struct Rect
    {
        public Rect(float x, float y, float width, float height) { }
    }

    public static class Screen
    {
        public static int width { get { return 0; } }
        public static int height { get { return 0; } }
    }

    public sealed class GUIStyle
    {
        public GUIStyle(GUIStyle other) { }

        public int fontSize { get; set; }
        public bool wordWrap { get; set; }
    }

    public sealed class GUISkin : Object
    {
        public GUIStyle box { get { return null; } }
    }

    public class GUI
    {
        public static GUISkin skin { get { return null; } }

        public static void Box(Rect position, string text, GUIStyle style) { }
    }

    public static class Debug
    {
        public static void Log(object message, Object context) { }
        public static void LogWarning(object message) { }
        public static void LogWarning(object message, Object context) { }
        public static void LogError(object message) { }
        public static void LogError(object message, Object context) { }
        public static void LogException(Exception exception) { }
        public static void Assert(bool condition, string message) { }
    }

    public static class Time
    {
        public static int frameCount { get { return 0; } }
        public static float realtimeSinceStartup { get { return 0f; } }
        public static double unscaledTimeAsDouble { get { return 0.0; } }
    }

    public static class Mathf
    {
        public static float Max(float a, float b) { return Math.Max(a, b); }
    }

    public static class JsonUtility
    {
        public static string ToJson(object obj) { return null; }
        public static T FromJson<T>(string json) { return default(T); }
    }

    public sealed class AudioSettings
    {
        public static double dspTime { get { return 0.0; } }
    }

    public enum AudioType
    {
        UNKNOWN = 0,
        OGGVORBIS = 14,
        WAV = 20,
        MPEG = 13,
    }

    public sealed class AudioClip : Object
    {
        public int samples { get { return 0; } }
        public int frequency { get { return 0; } }
    }

    public sealed class AudioSource : Behaviour
    {
        public AudioClip clip { get; set; }
        public bool playOnAwake { get; set; }
        public bool loop { get; set; }
        public bool isPlaying { get { return false; } }
        public int timeSamples { get; set; }

        public void PlayScheduled(double time) { }
        public void Stop() { }
    }

    public class RuntimeAnimatorController : Object
    {
    }

    public enum AnimatorControllerParameterType
    {
        Float = 1,
        Int = 3,
        Bool = 4,
        Trigger = 9,
    }

    public sealed class AnimatorControllerParameter
    {
        public string name { get { return null; } }
        public AnimatorControllerParameterType type { get { return 0; } }
    }

    public class Animator : Behaviour
    {
        public RuntimeAnimatorController runtimeAnimatorController { get; set; }
        public AnimatorControllerParameter[] parameters { get { return null; } }

        public void SetTrigger(string name) { }
        public void ResetTrigger(string name) { }
        public void Rebind() { }
        public void Update(float deltaTime) { }
    }

    public class Material : Object
    {
    }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class SerializeField : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class TooltipAttribute : Attribute
    {
        public TooltipAttribute(string tooltip) { }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class RangeAttribute : Attribute
    {
        public RangeAttribute(float min, float max) { }
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class AddComponentMenu : Attribute
    {
        public AddComponentMenu(string menuName) { }
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class DisallowMultipleComponent : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class DefaultExecutionOrder : Attribute
    {
        public DefaultExecutionOrder(int order) { }
    }
}

namespace UnityEngine.Events
{
    public abstract class UnityEventBase
    {
    }

    public class UnityEvent<T0> : UnityEventBase
    {
        public void Invoke(T0 arg0) { }
    }
}

namespace UnityEngine.Networking
{
    public class DownloadHandler : IDisposable
    {
        public string text { get { return null; } }
        public bool isDone { get { return false; } }

        public void Dispose() { }
    }

    public sealed class DownloadHandlerBuffer : DownloadHandler
    {
    }

    public class DownloadHandlerScript : DownloadHandler
    {
        public DownloadHandlerScript() { }
        public DownloadHandlerScript(byte[] preallocatedBuffer) { }

        protected virtual bool ReceiveData(byte[] data, int dataLength) { return true; }
    }

    public sealed class DownloadHandlerAudioClip : DownloadHandler
    {
        public static AudioClip GetContent(UnityWebRequest www) { return null; }
    }

    public class UploadHandler : IDisposable
    {
        public void Dispose() { }
    }

    public sealed class UploadHandlerRaw : UploadHandler
    {
        public UploadHandlerRaw(byte[] data) { }
    }

    public sealed class UnityWebRequestAsyncOperation : AsyncOperation
    {
        public UnityWebRequest webRequest { get { return null; } }
    }

    public class UnityWebRequest : IDisposable
    {
        public const string kHttpVerbGET = "GET";
        public const string kHttpVerbPOST = "POST";

        public enum Result
        {
            InProgress,
            Success,
            ConnectionError,
            ProtocolError,
            DataProcessingError,
        }

        public UnityWebRequest(string url, string method) { }
        public UnityWebRequest(string url, string method, DownloadHandler downloadHandler, UploadHandler uploadHandler) { }

        public DownloadHandler downloadHandler { get; set; }
        public UploadHandler uploadHandler { get; set; }
        public int timeout { get; set; }
        public string url { get; set; }
        public string method { get; set; }
        public long responseCode { get { return 0; } }
        public string error { get { return null; } }
        public bool isDone { get { return false; } }
        public Result result { get { return Result.InProgress; } }

        public static UnityWebRequest Get(string uri) { return null; }

        public void SetRequestHeader(string name, string value) { }
        public string GetResponseHeader(string name) { return null; }
        public UnityWebRequestAsyncOperation SendWebRequest() { return null; }
        public void Abort() { }
        public void Dispose() { }
    }

    public static class UnityWebRequestMultimedia
    {
        public static UnityWebRequest GetAudioClip(string uri, AudioType audioType) { return null; }
    }
}
