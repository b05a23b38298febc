using System.Globalization;

namespace VTuber.Animation
{
    /// <summary>
    /// Redis stream entry ids (<c>"&lt;milliseconds&gt;-&lt;sequence&gt;"</c>), the session log's event ids: they
    /// compare as two numbers, not as text ("9-0" comes before "10-0").
    /// </summary>
    public struct StreamId
    {
        public readonly ulong Milliseconds;
        public readonly ulong Sequence;

        public StreamId(ulong milliseconds, ulong sequence)
        {
            Milliseconds = milliseconds;
            Sequence = sequence;
        }

        public static bool TryParse(string text, out StreamId id)
        {
            id = default(StreamId);
            if (string.IsNullOrEmpty(text)) return false;
            int dash = text.IndexOf('-');
            if (dash <= 0 || dash == text.Length - 1) return false;
            ulong ms, seq;
            const NumberStyles digits = NumberStyles.None;
            if (!ulong.TryParse(text.Substring(0, dash), digits, CultureInfo.InvariantCulture, out ms)) return false;
            if (!ulong.TryParse(text.Substring(dash + 1), digits, CultureInfo.InvariantCulture, out seq)) return false;
            id = new StreamId(ms, seq);
            return true;
        }

        public bool IsAfter(StreamId other)
        {
            return Milliseconds > other.Milliseconds || (Milliseconds == other.Milliseconds && Sequence > other.Sequence);
        }

        public override string ToString()
        {
            return Milliseconds.ToString(CultureInfo.InvariantCulture) + "-" + Sequence.ToString(CultureInfo.InvariantCulture);
        }
    }
}
