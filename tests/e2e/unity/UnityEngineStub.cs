// Just enough of UnityEngine for SessionChannelClient.cs to build and run under Mono, outside Unity:
// tests/e2e/test_unity_session_channel.py drives the real component against the real API with it.
// JsonUtility is DataContractJsonSerializer here, filling nested objects as JsonUtility does (see below).
using System;
using System.Diagnostics;
using System.IO;
using System.Reflection;
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

    /// <summary>
    /// JsonUtility as the client meets it: fields mapped by name (a strict DataContractJsonSerializer), then what the
    /// Unity serializer does on top, never leaving a field of a [Serializable] class null (an absent or null nested
    /// object is built by its constructor) nor an array (an empty one). Code that tests a nested DTO for null
    /// fails here as it would in Unity.
    /// </summary>
    public static class JsonUtility
    {
        public static T FromJson<T>(string json)
        {
            if (string.IsNullOrEmpty(json)) return default(T);
            var serializer = new DataContractJsonSerializer(typeof(T));
            using (var stream = new MemoryStream(Encoding.UTF8.GetBytes(json)))
            {
                var parsed = (T)serializer.ReadObject(stream);
                Fill(parsed);
                return parsed;
            }
        }

        static void Fill(object value)
        {
            if (value == null) return;
            var array = value as Array;
            if (array != null)
            {
                foreach (object item in array) Fill(item);
                return;
            }
            if (!IsSerializableClass(value.GetType())) return;
            foreach (FieldInfo field in value.GetType().GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                if (field.IsNotSerialized || field.IsInitOnly) continue;
                object current = field.GetValue(value);
                if (current == null)
                {
                    if (field.FieldType.IsArray) current = Array.CreateInstance(field.FieldType.GetElementType(), 0);
                    else if (IsSerializableClass(field.FieldType)) current = Activator.CreateInstance(field.FieldType);
                    field.SetValue(value, current);
                }
                Fill(current);
            }
        }

        static bool IsSerializableClass(Type type)
        {
            return type.IsClass && type != typeof(string) && !type.IsArray && type.IsSerializable;
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
