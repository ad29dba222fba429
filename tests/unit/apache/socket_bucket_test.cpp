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
            close(peer_);
        }
        apr_brigade_destroy(brigade_);
        apr_socket_close(socket_);
        apr_pool_destroy(pool_);
    }

    // Writes `bytes` to the peer in full (it fits the socket buffer in these tests).
    void send(std::string_view bytes) {
        ASSERT_EQ(write(peer_, bytes.data(), bytes.size()),
                  static_cast<ssize_t>(bytes.size()));
    }

    void close_peer() {
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
}

TEST_F(SocketBucketTest, ReadSizeIsCappedAndKeptInTheHeapBucket) {
    send("x");
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
    ASSERT_EQ(read_first(APR_NONBLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, "late");
}

TEST_F(SocketBucketTest, EndOfStreamIsAnEmptyBucketWithNothingAfter) {
    send("last");
    close_peer();
    std::string data;
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, "last");
    drop_first();
    ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
    EXPECT_EQ(data, "");
    ASSERT_EQ(buckets(), 1u);
    EXPECT_NE(APR_BRIGADE_FIRST(brigade_)->type, &kSocketBucketType);
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
    const std::string body = pattern(150 * 1000 + 17);
    send(body);
    close_peer();
    std::string received;
    apr_size_t sizes[] = {0, 100, 64 * 1024, 3 * kMaxSocketRead, 9000};
    for (std::size_t i = 0;; ++i) {
        size_.wanted = sizes[i % 5];
        std::string data;
        ASSERT_EQ(read_first(APR_BLOCK_READ, data), APR_SUCCESS);
        if (data.empty()) {
            break;
        }
        EXPECT_LE(data.size(), std::max<apr_size_t>(size_.wanted, APR_BUCKET_BUFF_SIZE));
        received += data;
        drop_first();
        ASSERT_LT(i, 100u);
    }
    EXPECT_EQ(received, body);
}

TEST(SocketReadScope, RaisesClampsAndPutsBack) {
    SocketReadSize size;
    {
        SocketReadScope scope(&size, 70000);
        EXPECT_EQ(size.wanted, 70000u);
    }
    EXPECT_EQ(size.wanted, 0u);
    {
        SocketReadScope scope(&size, 10 * kMaxSocketRead);
        EXPECT_EQ(size.wanted, kMaxSocketRead);
    }
    EXPECT_EQ(size.wanted, 0u);
    SocketReadScope nothing(nullptr, 70000);  // a connection not read through the bucket
}

}  // namespace
}  // namespace wsgi::apache
