using System;
using System.IO;
using System.Runtime.Serialization.Json;
using System.Text;
using NUnit.Framework;

namespace VTuber.Animation.Tests
{
    /// <summary>
    /// What the backend wrote for the contract tests (tests/integration/test_unity_core.py), and the strict
    /// JSON reader they parse it with: DataContractJsonSerializer maps [Serializable] fields by name as
    /// Unity's JsonUtility does, but fails when the JSON lacks a field not marked [OptionalField], so a field
    /// renamed or dropped on either side breaks the tests.
    /// </summary>
    static class ContractFixtures
    {
        const string Variable = "VTUBER_CONTRACT_FIXTURES";

        public static T Parse<T>(string json)
        {
            var serializer = new DataContractJsonSerializer(typeof(T));
            using (var stream = new MemoryStream(Encoding.UTF8.GetBytes(json)))
            {
                return (T)serializer.ReadObject(stream);
            }
        }

        /// <summary>The fixture directory; ignores the test when the backend did not write one (in the Unity editor).</summary>
        public static string Directory()
        {
            string directory = Environment.GetEnvironmentVariable(Variable);
            if (string.IsNullOrEmpty(directory))
                Assert.Ignore(Variable + " is not set: run tests/integration/test_unity_core.py to check the backend's own output");
            return directory;
        }

        public static string Path(string name)
        {
            return System.IO.Path.Combine(Directory(), name);
        }
    }
}
