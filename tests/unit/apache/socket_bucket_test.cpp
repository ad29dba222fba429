// The module's socket bucket (apache/socket_bucket.hpp) over a real socket pair, read the way
// Apache's core input filter reads it: apr_bucket_read, blocking or not, then the bucket that
// follows.

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <apr_general.h>
#include <apr_portable.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <thread>

#include "apache/socket_bucket.hpp"

namespace wsgi::apache {
namespace {

class SocketBucketTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { apr_initialize(); }

    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        list_ = apr_bucket_alloc_create(pool_);
        brigade_ = apr_brigade_create(pool_, list_);
        int fds[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        peer_ = fds[1];
        apr_os_sock_t fd = fds[0];
        ASSERT_EQ(apr_os_sock_put(&socket_, &fd, pool_), APR_SUCCESS);
        ASSERT_EQ(apr_socket_timeout_set(socket_, apr_time_from_sec(5)), APR_SUCCESS);
        APR_BRIGADE_INSERT_TAIL(brigade_, socket_bucket_create(socket_, &size_, list_));
    }

    void TearDown() override {
        if (peer_ >= 0) {
            close_peer();
        }
        apr_brigade_destroy(brigade_);
        apr_socket_close(socket_);
        apr_pool_destroy(pool_);
    }

    // Writes `bytes` to the peer in full, from another thread (more than the socket buffer
    // holds waits for the reads); one at a time.
    void send(std::string bytes) {
        join_writer();
        writer_ = std::thread([fd = peer_, bytes = std::move(bytes)] {
            for (std::size_t sent = 0; sent < bytes.size();) {
                ssize_t n = write(fd, bytes.data() + sent, bytes.size() - sent);
                if (n <= 0) {
                    return;
                }
                sent += static_cast<std::size_t>(n);
            }
        });
    }

    // Waits until what send() gave has gone into the socket.
    void join_writer() {
        if (writer_.joinable()) {
            writer_.join();
        }
    }

    void close_peer() {
        join_writer();
        close(peer_);
        peer_ = -1;
    }

    // Reads the brigade's first bucket as the core input filter does; `data` gets its bytes.
    apr_status_t read_first(apr_read_type_e block, std::string& data) {
        apr_bucket* first = APR_BRIGADE_FIRST(brigade_);
        const char* str = nullptr;
        apr_size_t length = 0;
        apr_status_t status = apr_bucket_read(first, &str, &length, block);
        data.assign(str != nullptr ? str : "", length);
        return status;
    }

    // Consumes the first bucket (a read data bucket).
    void drop_first() { apr_bucket_delete(APR_BRIGADE_FIRST(brigade_)); }

    // Sends `last` and closes the peer, then reads as the core input filter does: `last`, then
    // the end of the stream, an empty bucket with no socket bucket after it.
    void expect_last_then_end(const std::string& last) {
        send(last);
        close_peer();
        std::string data;
        ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
        EXPECT_EQ(data, last);
        drop_first();
        ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
        EXPECT_EQ(data, "");
        ASSERT_EQ(buckets(), 1u);
        EXPECT_NE(APR_BRIGADE_FIRST(brigade_)->type, &kSocketBucketType);
    }

    std::size_t buckets() const {
        std::size_t count = 0;
        for (apr_bucket* b = APR_BRIGADE_FIRST(brigade_); b != APR_BRIGADE_SENTINEL(brigade_);
             b = APR_BUCKET_NEXT(b)) {
            ++count;
        }
        return count;
    }

    apr_pool_t* pool_ = nullptr;
    apr_bucket_alloc_t* list_ = nullptr;
    apr_bucket_brigade* brigade_ = nullptr;
    apr_socket_t* socket_ = nullptr;
    SocketReadSize size_;
    int peer_ = -1;
    std::thread writer_;
};

std::string pattern(std::size_t length) {
    std::string bytes(length, '\0');
    for (std::size_t i = 0; i < length; ++i) {
        bytes[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    }
    return bytes;
}

TEST_F(SocketBucketTest, ReadsAsApacheDoesUnlessRaised) {
    const std::string body = pattern(64 * 1024);
    send(body);
    join_writer();  // all of it waits in the socket
    std::string data;
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, body.substr(0, APR_BUCKET_BUFF_SIZE));
    // The data is a heap bucket; a socket bucket of the same kind follows it.
    EXPECT_TRUE(APR_BUCKET_IS_HEAP(APR_BRIGADE_FIRST(brigade_)));
    ASSERT_EQ(buckets(), 2u);
    EXPECT_EQ(APR_BRIGADE_LAST(brigade_)->type, &kSocketBucketType);
    drop_first();

    size_.wanted = 64 * 1024;  // the next read takes the rest in one call
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, body.substr(APR_BUCKET_BUFF_SIZE));
    EXPECT_EQ(APR_BRIGADE_LAST(brigade_)->type, &kSocketBucketType);
    // What is still wanted is lowered by what came.
    EXPECT_EQ(size_.wanted, APR_BUCKET_BUFF_SIZE);
}

TEST_F(SocketBucketTest, ReadsAddUpToWhatWasWanted) {
    // Data arriving piece by piece (the core input filter reads on without waiting): each
    // read allocates only what is still wanted, not the whole amount again.
    size_.wanted = 100 * 1000;
    std::size_t allocated = 0;
    for (int piece = 0; piece < 4; ++piece) {
        send(std::string(20 * 1000, 'x'));
        join_writer();
        std::string data;
        ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
        EXPECT_EQ(data.size(), 20u * 1000);
        allocated += static_cast<apr_bucket_heap*>(APR_BRIGADE_FIRST(brigade_)->data)->alloc_len;
        drop_first();
    }
    EXPECT_EQ(size_.wanted, 20u * 1000);
    EXPECT_EQ(allocated, (100 + 80 + 60 + 40) * 1000u);
}

TEST_F(SocketBucketTest, ReadSizeIsCappedAndKeptInTheHeapBucket) {
    send("x");
    join_writer();
    size_.wanted = 4 * kMaxSocketRead;
    std::string data;
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, "x");
    auto* heap = static_cast<apr_bucket_heap*>(APR_BRIGADE_FIRST(brigade_)->data);
    EXPECT_EQ(heap->alloc_len, kMaxSocketRead);
}

TEST_F(SocketBucketTest, NonBlockingReadOfNothingLeavesTheBucketAndTheTimeout) {
    std::string data;
    EXPECT_TRUE(APR_STATUS_IS_EAGAIN(read_first(APR_NONBLOCK_READ, data)));
    EXPECT_EQ(data, "");
    ASSERT_EQ(buckets(), 1u);
    EXPECT_EQ(APR_BRIGADE_FIRST(brigade_)->type, &kSocketBucketType);
    apr_interval_time_t timeout = 0;
    apr_socket_timeout_get(socket_, &timeout);
    EXPECT_EQ(timeout, apr_time_from_sec(5));

    send("late");
    join_writer();
    ASSERT_EQ(read_first(APR_NONBLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, "late");
}

TEST_F(SocketBucketTest, EndOfStreamIsAnEmptyBucketWithNothingAfter) {
    ASSERT_NO_FATAL_FAILURE(expect_last_then_end("last"));
}

TEST_F(SocketBucketTest, SocketErrorIsReturnedAndTheBucketStays) {
    size_.wanted = 64 * 1024;
    ASSERT_EQ(apr_socket_timeout_set(socket_, apr_time_from_msec(50)), APR_SUCCESS);
    std::string data;
    EXPECT_TRUE(APR_STATUS_IS_TIMEUP(read_first(APR_BLOCK_READ, data)));
    ASSERT_EQ(buckets(), 1u);
    EXPECT_EQ(APR_BRIGADE_FIRST(brigade_)->type, &kSocketBucketType);
}

TEST_F(SocketBucketTest, AWholeStreamArrivesIntactWhateverTheReadSizes) {
    const std::string body = pattern(600 * 1000 + 17);  // more than the socket buffer holds
    send(body);
    std::string received;
    apr_size_t sizes[] = {0, 100, 64 * 1024, 3 * kMaxSocketRead, 9000};
    for (std::size_t i = 0;; ++i) {
        if (received.size() == body.size()) {
            close_peer();  // what follows is the end of the stream
        }
        size_.wanted = sizes[i % 5];
        const apr_size_t most = std::clamp<apr_size_t>(size_.wanted, APR_BUCKET_BUFF_SIZE,
                                                        kMaxSocketRead);
        std::string data;
        ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
        if (data.empty()) {
            break;
        }
        EXPECT_LE(data.size(), most);
        received += data;
        drop_first();
        ASSERT_LT(i, 1000u);
    }
    EXPECT_EQ(received, body);
}

// Reads `bucket` (any data bucket) into a string.
std::string contents(apr_bucket* bucket) {
    const char* str = nullptr;
    apr_size_t length = 0;
    EXPECT_EQ(apr_bucket_read(bucket, &str, &length, APR_BLOCK_READ), APR_SUCCESS);
    return std::string(str != nullptr ? str : "", length);
}

TEST_F(SocketBucketTest, AReadWithADestinationLandsThereAsAPlacedBucket) {
    const std::string body = pattern(64 * 1024);
    send(body);
    join_writer();
    std::string buffer(64 * 1024, '\0');
    size_.wanted = 64 * 1024;
    size_.destination = buffer.data();
    size_.room = buffer.size();
    apr_bucket* first = APR_BRIGADE_FIRST(brigade_);
    const char* str = nullptr;
    apr_size_t length = 0;
    ASSERT_EQ(apr_bucket_read(first, &str, &length, APR_BLOCK_READ), APR_SUCCESS);
    EXPECT_EQ(str, buffer.data());  // no copy: the bytes are where the reader wants them
    ASSERT_EQ(length, body.size());
    EXPECT_EQ(buffer, body);
    EXPECT_EQ(first->type, &kPlacedBucketType);
    EXPECT_EQ(first->length, body.size());
    ASSERT_EQ(buckets(), 2u);
    EXPECT_EQ(APR_BRIGADE_LAST(brigade_)->type, &kSocketBucketType);
    // The destination moves on past the read; what is still wanted is lowered.
    EXPECT_EQ(size_.destination, buffer.data() + buffer.size());
    EXPECT_EQ(size_.room, 0u);
    EXPECT_EQ(size_.wanted, 0u);
    EXPECT_NE(size_.placed, nullptr);
    drop_first();
    EXPECT_EQ(size_.placed, nullptr);  // consumed: nothing left pointing into the buffer
}

TEST_F(SocketBucketTest, TheRoomLimitsAPlacedReadAndASmallRoomReadsIntoTheHeap) {
    const std::string body = pattern(30000);
    send(body);
    join_writer();
    std::string buffer(20000, '\0');
    size_.wanted = 64 * 1024;
    size_.destination = buffer.data();
    size_.room = 9000;
    std::string data;
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, body.substr(0, 9000));
    EXPECT_EQ(APR_BRIGADE_FIRST(brigade_)->type, &kPlacedBucketType);
    EXPECT_EQ(buffer.substr(0, 9000), data);
    drop_first();
    // Room for less than APR's 8000 bytes: an 8000-byte read into the heap, as APR's bucket
    // would make, rather than a read call for every few bytes asked for.
    size_.room = APR_BUCKET_BUFF_SIZE - 1;
    size_.wanted = 0;
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, body.substr(9000, APR_BUCKET_BUFF_SIZE));
    EXPECT_TRUE(APR_BUCKET_IS_HEAP(APR_BRIGADE_FIRST(brigade_)));
    EXPECT_EQ(size_.destination, buffer.data() + 9000);  // untouched
    EXPECT_EQ(std::count(buffer.begin() + 9000, buffer.end(), '\0'), 11000);
}

// Reads the bucket after `bucket` (a socket bucket) once `bytes` have arrived, as the core
// input filter reads on; returns the data bucket it became.
apr_bucket* read_next(apr_bucket* bucket) {
    apr_bucket* next = APR_BUCKET_NEXT(bucket);
    const char* str = nullptr;
    apr_size_t length = 0;
    EXPECT_EQ(apr_bucket_read(next, &str, &length, APR_BLOCK_READ), APR_SUCCESS);
    return next;
}

const char* data_of(apr_bucket* bucket) {
    const char* str = nullptr;
    apr_size_t length = 0;
    EXPECT_EQ(apr_bucket_read(bucket, &str, &length, APR_BLOCK_READ), APR_SUCCESS);
    return str;
}

TEST_F(SocketBucketTest, EvictionCopiesOutOnlyTheReadsOverlappingTheRange) {
    std::string buffer(20000, '\0');
    size_.destination = buffer.data();
    size_.room = buffer.size();
    const std::string one = pattern(1000);
    const std::string two(1000, 'z');
    send(one);
    join_writer();
    std::string data;
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    apr_bucket* first = APR_BRIGADE_FIRST(brigade_);
    send(two);
    join_writer();
    apr_bucket* second = read_next(first);  // placed at buffer + 1000
    ASSERT_EQ(second->type, &kPlacedBucketType);
    EXPECT_EQ(data_of(second), buffer.data() + 1000);

    EXPECT_FALSE(evict_placed(&size_, buffer.data() + 2000, 2000));  // past both
    EXPECT_TRUE(evict_placed(&size_, buffer.data() + 1999, 1));      // the second's last byte
    EXPECT_EQ(data_of(first), buffer.data());                       // the first stays
    EXPECT_NE(data_of(second), buffer.data() + 1000);               // the second moved out
    std::fill(buffer.begin(), buffer.end(), '#');  // the reader writes over the second's place
    EXPECT_EQ(contents(second), two);
    EXPECT_EQ(contents(first), std::string(1000, '#'));  // the first is the buffer itself
    drop_first();
    drop_first();  // both records freed (a leak or double free shows under ASan)
    EXPECT_EQ(size_.placed, nullptr);
    EXPECT_FALSE(evict_placed(nullptr, buffer.data(), 1));
}

TEST_F(SocketBucketTest, SplitsAndCopiesShareAReadThatSetAsideMovesOutOfTheBuffer) {
    std::string buffer(10000, '\0');
    const std::string body = pattern(3000);
    send(body);
    join_writer();
    size_.destination = buffer.data();
    size_.room = buffer.size();
    std::string data;
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    apr_bucket* first = APR_BRIGADE_FIRST(brigade_);
    ASSERT_EQ(apr_bucket_split(first, 1000), APR_SUCCESS);
    apr_bucket* second = APR_BUCKET_NEXT(first);
    apr_bucket* copy = nullptr;
    ASSERT_EQ(apr_bucket_copy(second, &copy), APR_SUCCESS);
    APR_BRIGADE_INSERT_TAIL(brigade_, copy);
    EXPECT_EQ(data_of(second), buffer.data() + 1000);
    EXPECT_EQ(data_of(copy), buffer.data() + 1000);

    // Whoever sets a bucket aside keeps it beyond the read: the read they share leaves the
    // buffer, for all of them.
    ASSERT_EQ(apr_bucket_setaside(first, pool_), APR_SUCCESS);
    EXPECT_EQ(size_.placed, nullptr);
    std::fill(buffer.begin(), buffer.end(), '#');
    EXPECT_EQ(contents(first), body.substr(0, 1000));
    EXPECT_EQ(contents(second), body.substr(1000));
    EXPECT_EQ(contents(copy), body.substr(1000));
    apr_bucket_delete(copy);
}

TEST_F(SocketBucketTest, TheEndOfAScopeMovesWhatIsStillPlacedOutOfTheBuffer) {
    std::string buffer(10000, '\0');
    const std::string body = pattern(5000);
    send(body);
    join_writer();
    {
        SocketReadScope scope(&size_, 64 * 1024, ReadTarget{buffer.data(), buffer.size()});
        EXPECT_EQ(size_.destination, buffer.data());
        std::string data;
        ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
        EXPECT_EQ(data_of(APR_BRIGADE_FIRST(brigade_)), buffer.data());
    }
    EXPECT_EQ(size_.placed, nullptr);
    EXPECT_EQ(size_.destination, nullptr);
    EXPECT_EQ(size_.room, 0u);
    EXPECT_NE(data_of(APR_BRIGADE_FIRST(brigade_)), buffer.data());
    std::fill(buffer.begin(), buffer.end(), '#');  // the reader's buffer may now change or go
    EXPECT_EQ(contents(APR_BRIGADE_FIRST(brigade_)), body);
}

TEST_F(SocketBucketTest, BufferedOnlyNonBlockingReadsLeaveTheSocketAlone) {
    send("abc");
    join_writer();
    size_.buffered_only = true;
    std::string data;
    EXPECT_TRUE(APR_STATUS_IS_EAGAIN(read_first(APR_NONBLOCK_READ, data)));
    ASSERT_EQ(buckets(), 1u);
    EXPECT_EQ(APR_BRIGADE_FIRST(brigade_)->type, &kSocketBucketType);
    size_.buffered_only = false;
    ASSERT_EQ(read_first(APR_NONBLOCK_READ, data), APR_SUCCESS);  // still in the socket
    EXPECT_EQ(data, "abc");
    drop_first();

    send("def");
    join_writer();
    size_.buffered_only = true;  // a blocking read is never refused
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, "def");
}

TEST_F(SocketBucketTest, TheEndOfTheStreamWithADestinationPlacesNothing) {
    char buffer[10000];
    size_.destination = buffer;
    size_.room = sizeof(buffer);
    ASSERT_NO_FATAL_FAILURE(expect_last_then_end("x"));
    EXPECT_EQ(size_.placed, nullptr);
    EXPECT_EQ(size_.destination, buffer + 1);
}

TEST_F(SocketBucketTest, AStreamReadIntoPlaceArrivesIntactWhateverTheRoom) {
    const std::string body = pattern(600 * 1000 + 17);  // more than the socket buffer holds
    send(body);
    std::string buffer(body.size() + APR_BUCKET_BUFF_SIZE, '\0');
    std::string received;  // what the reads gave, in order
    apr_size_t rooms[] = {1, 70000, 100, 3 * kMaxSocketRead, 9000, APR_BUCKET_BUFF_SIZE};
    for (std::size_t i = 0; received.size() < body.size(); ++i) {
        ASSERT_LT(i, 10000u);
        const apr_size_t room = std::min(rooms[i % 6], body.size() - received.size());
        char* destination = buffer.data() + received.size();
        SocketReadScope scope(&size_, rooms[i % 6], ReadTarget{destination, room});
        const char* str = nullptr;
        apr_size_t length = 0;
        ASSERT_EQ(apr_bucket_read(APR_BRIGADE_FIRST(brigade_), &str, &length, APR_BLOCK_READ),
                  APR_SUCCESS);
        ASSERT_GT(length, 0u);
        // In place when there is room for an 8000-byte read, else in a heap bucket.
        EXPECT_EQ(str == destination, room >= APR_BUCKET_BUFF_SIZE) << i;
        EXPECT_LE(length, std::max<apr_size_t>(room, APR_BUCKET_BUFF_SIZE));
        received.append(str, length);
        drop_first();
    }
    EXPECT_EQ(received, body);
}

TEST(SocketReadScope, RaisesClampsAndPutsBack) {
    SocketReadSize size;
    {
        SocketReadScope scope(&size, 70000);
        EXPECT_EQ(size.wanted, 70000u);
        {
            SocketReadScope inner(&size, 9000);
            EXPECT_EQ(size.wanted, 9000u);
        }
        EXPECT_EQ(size.wanted, 70000u);  // an inner scope puts back the outer's
    }
    EXPECT_EQ(size.wanted, 0u);
    {
        SocketReadScope scope(&size, 10 * kMaxSocketRead);
        EXPECT_EQ(size.wanted, kMaxSocketRead);
    }
    EXPECT_EQ(size.wanted, 0u);
    char buffer[10];
    {
        SocketReadScope scope(&size, 9000, ReadTarget{buffer, sizeof(buffer)});
        EXPECT_EQ(size.destination, buffer);
        EXPECT_EQ(size.room, sizeof(buffer));
        EXPECT_FALSE(size.buffered_only);
        {
            SocketReadScope inner(&size, 9000, ReadTarget{nullptr, 5, true});
            EXPECT_EQ(size.destination, nullptr);
            EXPECT_EQ(size.room, 0u);  // no room without a destination
            EXPECT_TRUE(size.buffered_only);
        }
        EXPECT_EQ(size.destination, buffer);
        EXPECT_FALSE(size.buffered_only);
    }
    EXPECT_EQ(size.destination, nullptr);
    EXPECT_EQ(size.room, 0u);
    SocketReadScope nothing(nullptr, 70000);  // a connection not read through the bucket
}

}  // namespace
}  // namespace wsgi::apache
