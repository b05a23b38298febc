using System.Collections.Generic;
using System.Text;
using NUnit.Framework;
using VTuber.Animation.Wire;

namespace VTuber.Animation.Tests
{
    [TestFixture]
    public class SseParserTests
    {
        // What sse-starlette writes (CR LF, pings as comments), with a retry, a multi-line message and non-ASCII text.
        const string Stream =
            "retry: 3000\r\n\r\n" +
            "id: 1732834323123-0\r\nevent: job.queued\r\ndata: {\"type\":\"job.queued\"}\r\n\r\n" +
            ": ping - 2026-11-28 10:00:00\r\n\r\n" +
            "id: 1732834323123-1\r\nevent: segment.queued\r\ndata: {\"text\":\"Hallo, grüß dich — こんにちは 🎉\"}\r\n\r\n" +
            "id: 1732834323200-0\r\nevent: note\r\ndata: first\r\ndata:second\r\ndata\r\n\r\n" +
            "id: 1732834323201-0\r\nevent: job.completed\r\ndata: {}\r\n\r\n";

        static List<SseMessage> ParseText(params string[] chunks)
        {
            var parser = new SseParser();
            var messages = new List<SseMessage>();
            foreach (string chunk in chunks) parser.Feed(chunk, messages);
            return messages;
        }

        static List<string> Describe(List<SseMessage> messages)
        {
            return messages.ConvertAll(m => m.Id + "|" + m.Event + "|" + m.Data);
        }

        static readonly string[] Expected =
        {
            "1732834323123-0|job.queued|{\"type\":\"job.queued\"}",
            "1732834323123-1|segment.queued|{\"text\":\"Hallo, grüß dich — こんにちは 🎉\"}",
            "1732834323200-0|note|first\nsecond\n",
            "1732834323201-0|job.completed|{}",
        };

        [Test]
        public void AWholeStreamGivesEveryMessage()
        {
            var parser = new SseParser();
            var messages = new List<SseMessage>();
            parser.Feed(Stream, messages);

            CollectionAssert.AreEqual(Expected, Describe(messages));
            Assert.AreEqual("1732834323201-0", parser.LastEventId);
            Assert.AreEqual(3000, parser.RetryMs);
        }

        [Test]
        public void TextSplitAtEveryPositionGivesTheSameMessages()
        {
            for (int cut = 0; cut <= Stream.Length; cut++)
            {
                List<SseMessage> messages = ParseText(Stream.Substring(0, cut), Stream.Substring(cut));
                CollectionAssert.AreEqual(Expected, Describe(messages), "split at " + cut);
            }
        }

        [Test]
        public void BytesSplitAtEveryPositionGiveTheSameMessages()
        {
            // Cuts land inside CR LF pairs and inside the 2-, 3- and 4-byte UTF-8 characters.
            byte[] bytes = Encoding.UTF8.GetBytes(Stream);
            for (int cut = 0; cut <= bytes.Length; cut++)
            {
                var parser = new SseParser();
                var messages = new List<SseMessage>();
                parser.Feed(bytes, 0, cut, messages);
                parser.Feed(bytes, cut, bytes.Length - cut, messages);
                CollectionAssert.AreEqual(Expected, Describe(messages), "split at byte " + cut);
            }
        }

        [Test]
        public void OneByteAtATimeGivesTheSameMessages()
        {
            byte[] bytes = Encoding.UTF8.GetBytes(Stream);
            var parser = new SseParser();
            var messages = new List<SseMessage>();
            for (int i = 0; i < bytes.Length; i++) parser.Feed(bytes, i, 1, messages);
            CollectionAssert.AreEqual(Expected, Describe(messages));
        }

        [Test]
        public void LinesMayEndInLfCrLfOrCrEvenMixed()
        {
            foreach (string end in new[] { "\n", "\r\n", "\r" })
            {
                string stream = "id: 1" + end + "data: a" + end + end + "data: b" + end + "data: c" + end + end;
                CollectionAssert.AreEqual(new[] { "1|message|a", "1|message|b\nc" }, Describe(ParseText(stream)), Escape(end));
            }
            List<SseMessage> mixed = ParseText("data: a\r\rdata: b\n\r\ndata: c\r\n\n");
            CollectionAssert.AreEqual(new[] { "|message|a", "|message|b", "|message|c" }, Describe(mixed));
        }

        [Test]
        public void ACrAtTheEndOfAChunkIsOneLineEndWhetherOrNotAnLfFollows()
        {
            CollectionAssert.AreEqual(new[] { "|message|a" }, Describe(ParseText("data: a\r", "\n\r", "\n")));
            CollectionAssert.AreEqual(new[] { "|message|a" }, Describe(ParseText("data: a\r", "\r")));
            CollectionAssert.AreEqual(new[] { "|message|a", "|message|b" }, Describe(ParseText("data: a\r", "\r", "data: b\r", "\n\n")));
        }

        [Test]
        public void CommentsAreIgnoredAndAddNothing()
        {
            List<SseMessage> messages = ParseText(": keep-alive\n:\ndata: a\n: inside a message\ndata: b\n\n:\n\n");
            CollectionAssert.AreEqual(new[] { "|message|a\nb" }, Describe(messages));
        }

        [Test]
        public void FieldRulesFollowTheSpec()
        {
            List<SseMessage> messages = ParseText(
                "data:no space\n\n" + // the space after the colon is optional
                "data:  two spaces\n\n" + // only one is stripped
                "data\n\n" + // a field without a colon has an empty value: one empty data line
                "data: x: y\n\n" + // only the first colon splits
                "foo: bar\nevent: custom\ndata: z\n\n" + // unknown fields are ignored
                "data: after\n\n"); // the event type does not carry over

            CollectionAssert.AreEqual(
                new[] { "|message|no space", "|message| two spaces", "|message|", "|message|x: y", "|custom|z", "|message|after" },
                Describe(messages));
        }

        [Test]
        public void AMessageWithoutDataIsNotDispatchedButItsIdCounts()
        {
            var parser = new SseParser();
            var messages = new List<SseMessage>();
            parser.Feed("id: 7\nevent: lonely\n\ndata: next\n\n", messages);

            CollectionAssert.AreEqual(new[] { "7|message|next" }, Describe(messages), "the event type was reset too");
            Assert.AreEqual("7", parser.LastEventId);
        }

        [Test]
        public void TheIdCarriesOverAndOnlyANulFreeIdReplacesIt()
        {
            var parser = new SseParser();
            List<SseMessage> messages = new List<SseMessage>();
            parser.Feed("id: 1\ndata: a\n\ndata: b\n\nid: 2\0x\ndata: c\n\n", messages);
            CollectionAssert.AreEqual(new[] { "1|message|a", "1|message|b", "1|message|c" }, Describe(messages));

            parser.Feed("id\ndata: d\n\n", messages);
            Assert.AreEqual("", parser.LastEventId, "an empty id resets it");
            Assert.AreEqual("", messages[3].Id);
        }

        [Test]
        public void RetryTakesOnlyDigits()
        {
            var parser = new SseParser();
            var messages = new List<SseMessage>();
            Assert.AreEqual(-1, parser.RetryMs);
            parser.Feed("retry: 1500\n\n", messages);
            parser.Feed("retry: 15s\nretry: -1\nretry:\nretry: 1.5\n\n", messages);
            Assert.AreEqual(1500, parser.RetryMs);
            parser.Feed("retry:250\n", messages);
            Assert.AreEqual(250, parser.RetryMs);
            Assert.AreEqual(0, messages.Count);
        }

        [Test]
        public void AnUnfinishedMessageIsDroppedAtTheEndOfTheStream()
        {
            var parser = new SseParser();
            var messages = new List<SseMessage>();
            parser.Feed("id: 1\ndata: done\n\nid: 2\nevent: x\ndata: half", messages);
            parser.EndOfStream();
            parser.Feed("data: fresh\n\n", messages);

            CollectionAssert.AreEqual(new[] { "1|message|done", "2|message|fresh" }, Describe(messages));
            Assert.AreEqual("2", parser.LastEventId, "the id line was complete before the connection closed");
        }

        [Test]
        public void OneLeadingByteOrderMarkIsIgnored()
        {
            var parser = new SseParser();
            var messages = new List<SseMessage>();
            byte[] bom = { 0xEF, 0xBB, 0xBF };
            parser.Feed(bom, 0, 2, messages);
            parser.Feed(bom, 2, 1, messages);
            parser.Feed("data: a\n\n", messages);
            CollectionAssert.AreEqual(new[] { "|message|a" }, Describe(messages));

            List<SseMessage> inside = ParseText("data: a\n\n\uFEFFdata: b\n\n");
            Assert.AreEqual(1, inside.Count, "a BOM later on is part of a field name, which is then unknown");
        }

        static string Escape(string text)
        {
            return text.Replace("\r", "\\r").Replace("\n", "\\n");
        }
    }
}
