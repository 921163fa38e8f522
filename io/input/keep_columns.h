/*
 * keep_columns.h - where --keep "default" finds its columns (created_at,
 * author, url, lang, is_reply, is_retweet) in a tweet of any of the formats,
 * and the two tests on names and texts they need. Both builders of the kept
 * fields read them from here: the cJSON one (reader_keep.c) and the fast one
 * over the raw bytes (keep_scan.c), so that they cannot drift apart. The path
 * lists are initialisers: `static const char *const created[] = {EP_KEEP_CREATED};`.
 * Private to io/input/.
 */
#ifndef EP_KEEP_COLUMNS_H
#define EP_KEEP_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* created_at: the first of these that is a non-empty string. */
#define EP_KEEP_CREATED "created_at", "tweet.created_at", "data.created_at", "noteTweet.createdAt"
/* author: the first non-empty string of these; else the API page's includes.users entry whose "id" is the
 * record's author id (EP_KEEP_AUTHOR_ID); else the export's account name. */
#define EP_KEEP_AUTHORS "user.screen_name", "author.username", "tweet.user.screen_name", "data.author.username"
#define EP_KEEP_AUTHOR_ID "author_id", "data.author_id"
#define EP_KEEP_INCLUDES_USERS "includes.users"
#define EP_KEEP_LANGS "lang", "tweet.lang", "data.lang"
/* is_reply: a referenced tweet of type "replied_to", or one of these that is a non-empty string, a number or
 * true (in_reply_to_user_id alone is also set on a tweet that only starts with a mention: not a reply). */
#define EP_KEEP_REPLIES                                                                                      \
    "in_reply_to_status_id_str", "in_reply_to_status_id", "tweet.in_reply_to_status_id_str",                \
        "tweet.in_reply_to_status_id"
/* is_retweet: a referenced tweet of type "retweeted", a text that starts "RT @name:", or one of these
 * that is an object (the export has no retweeted_status: its retweets are known by their text). */
#define EP_KEEP_RETWEETS "retweeted_status", "tweet.retweeted_status"
/* API v2: arrays of {"type": "replied_to" | "retweeted" | "quoted", "id": ...}. */
#define EP_KEEP_REFERENCED "referenced_tweets", "tweet.referenced_tweets", "data.referenced_tweets"

/* @return true for a byte of a Twitter name (and of a t.co link's path): ASCII letters, digits, '_'. */
static inline bool ep_keep_name_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* @return true for "RT @name:" at the start, how the export and the API write a retweet's text. */
static inline bool ep_keep_retweet_text(const char *s, size_t n) {
    if (n < 5 || memcmp(s, "RT @", 4) != 0) return false;
    size_t i = 4;
    while (i < n && ep_keep_name_byte(s[i])) i++;
    return i > 4 && i < n && s[i] == ':';
}

#endif /* EP_KEEP_COLUMNS_H */
