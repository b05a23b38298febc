#if VTUBER_UNIVRM10
using System.Collections;
using UnityEngine;
using VTuber.AvatarPlayer;

namespace VTuber.AvatarPlayer.Samples
{
    /// <summary>
    /// Say a line through the backend and watch the avatar speak it: open a session, send the text, play every
    /// segment as it arrives. Put it next to a <see cref="JobClient"/> and a <see cref="VrmTrackPlayer"/>
    /// whose Vrm field points at a loaded VRM 1.0 model, start the backend (make run), press Play.
    /// </summary>
    public sealed class TalkingAvatar : MonoBehaviour
    {
        [SerializeField] JobClient client;
        [SerializeField] VrmTrackPlayer player;

        [Tooltip("Persona id; empty for the server's default.")]
        [SerializeField] string persona = "";

        [SerializeField] string firstLine = "Hi! Can you wave to the chat?";

        string _sessionId;

        IEnumerator Start()
        {
            yield return client.CreateSession(persona, session => _sessionId = session.id, Debug.LogError);
            if (_sessionId != null) yield return Say(firstLine);
        }

        /// <summary>Hook this to a UI input field's submit event.</summary>
        public void SayFromUI(string text)
        {
            if (_sessionId != null) StartCoroutine(Say(text));
        }

        IEnumerator Say(string text)
        {
            string jobId = null;
            yield return client.SubmitText(_sessionId, text, accepted => jobId = accepted.job_id, Debug.LogError);
            if (jobId == null) yield break;

            player.BeginTurn();
            yield return client.FollowJob(
                jobId,
                (index, clip, track) => player.Enqueue(index, clip, track),
                (job, playable) =>
                {
                    // By status: JsonUtility fills job.error even when the reply succeeded.
                    string reason;
                    if (job.TryGetFailure(out reason)) Debug.LogWarning("The reply failed: " + reason);
                    player.EndTurn(playable);
                },
                error =>
                {
                    Debug.LogError(error);
                    player.Stop();
                },
                player.BeginTurn); // the backend restarted the reply: start over with it
        }
    }
}
#endif
