// Just enough of UnityEngine for SessionChannelClient.cs to build and run under Mono, outside Unity:
// tests/e2e/test_unity_session_channel.py drives the real component against the real API with it.
// JsonUtility is DataContractJsonSerializer here: it maps [Serializable] fields by name as JsonUtility does.
using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.Serialization.Json;
using System.Text;

namespace UnityEngine
{
    public class Object
    {
    }

    public class Component : Object
    {
    }

    public class Behaviour : Component
    {
    }

    public class MonoBehaviour : Behaviour
    {
    }

    public static class Debug
    {
        public static void LogWarning(object message, Object context)
        {
            Console.Error.WriteLine("warning: " + message);
        }

        public static void LogError(object message, Object context)
        {
            Console.Error.WriteLine("error: " + message);
        }

        public static void LogException(Exception exception)
        {
            Console.Error.WriteLine("exception: " + exception);
        }
    }

    public static class Time
    {
        static readonly Stopwatch Clock = Stopwatch.StartNew();

        public static float realtimeSinceStartup
        {
            get { return (float)Clock.Elapsed.TotalSeconds; }
        }
    }

    public static class JsonUtility
    {
        public static T FromJson<T>(string json)
        {
            var serializer = new DataContractJsonSerializer(typeof(T));
            using (var stream = new MemoryStream(Encoding.UTF8.GetBytes(json)))
            {
                return (T)serializer.ReadObject(stream);
            }
        }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class SerializeField : Attribute
    {
    }

    public sealed class TooltipAttribute : Attribute
    {
        public TooltipAttribute(string tooltip)
        {
        }
    }

    public sealed class RangeAttribute : Attribute
    {
        public RangeAttribute(float min, float max)
        {
        }
    }

    public sealed class AddComponentMenu : Attribute
    {
        public AddComponentMenu(string menuName)
        {
        }
    }
}
