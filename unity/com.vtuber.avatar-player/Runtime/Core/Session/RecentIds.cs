using System.Collections.Generic;

namespace VTuber.Animation
{
    /// <summary>A set that remembers only the last <c>capacity</c> ids added: a long session must not grow it forever.</summary>
    public sealed class RecentIds
    {
        readonly HashSet<string> _set = new HashSet<string>();
        readonly Queue<string> _order = new Queue<string>();
        readonly int _capacity;

        public RecentIds(int capacity = 1024)
        {
            _capacity = capacity < 1 ? 1 : capacity;
        }

        public bool Contains(string id)
        {
            return id != null && _set.Contains(id);
        }

        /// <summary>False when <paramref name="id"/> is already remembered.</summary>
        public bool Add(string id)
        {
            if (id == null || !_set.Add(id)) return false;
            _order.Enqueue(id);
            if (_order.Count > _capacity) _set.Remove(_order.Dequeue());
            return true;
        }
    }
}
