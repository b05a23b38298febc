using System;
using System.Collections;
using System.Reflection;

namespace VTuber.Animation.Tests
{
    /// <summary>
    /// Parses JSON the way Unity's <c>JsonUtility.FromJson</c> leaves it, for code that reads what JsonUtility gave.
    /// In the editor it is JsonUtility itself. Under Mono (tests/integration/test_unity_core.py) it is a stand-in:
    /// the strict <see cref="ContractFixtures.Parse{T}"/>, then what the Unity serializer does and
    /// DataContractJsonSerializer does not: it never leaves a field of a [Serializable] class null (a missing or null
    /// nested object becomes one built by its constructor, initializers run) nor an array null (an empty one).
    /// </summary>
    static class UnityJson
    {
        public static T Parse<T>(string json)
        {
#if UNITY_5_3_OR_NEWER
            return UnityEngine.JsonUtility.FromJson<T>(json);
#else
            if (string.IsNullOrEmpty(json)) return default(T); // as FromJson: null for no input
            T parsed = ContractFixtures.Parse<T>(json);
            Fill(parsed);
            return parsed;
#endif
        }

        static void Fill(object value)
        {
            if (value == null) return;
            var array = value as IList;
            if (array != null && value.GetType().IsArray)
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
}
