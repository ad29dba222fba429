// Kept connections between Apache children and daemon processes, over real UNIX sockets:
// the Apache child's ConnectionPool and the daemon process's DaemonListener.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/connection_pool.hpp"
#include "daemon/daemon_listener.hpp"
#include "daemon/protocol.hpp"
#include "daemon/socket_io.hpp"

namespace wsgi::daemon {
namespace {

using protocol::FrameType;

struct Pair {
    int a = -1;
    int b = -1;
    Pair() {
        int fds[2];
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        a = fds[0];
        b = fds[1];
    }
};

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(ConnectionPool, GivesBackAnIdleConnection) {
    ConnectionPool pool(2);
    Pair pair;
    pool.put(pair.a);
    EXPECT_EQ(pool.size(), 1u);
    EXPECT_EQ(pool.take(), pair.a);
    EXPECT_EQ(pool.take(), -1);
    close(pair.a);
    close(pair.b);
}

// The pool does not check a connection before handing it out: what the Apache child relies on
// is that a request sent on one its daemon process gave up fails at once, before anything could
// have read it, so that the child sends it again on a new connection. A daemon process that
// restarts or stops shuts down its reading side of an idle connection before sending kRestart
// there (send_restart(), the descriptor possibly still open for a while); one that dies has its
// descriptors closed.
TEST(ConnectionPool, ASendOnAConnectionTheDaemonGaveUpFails) {
    ConnectionPool pool(4);
    Pair closed;
    Pair restarted;
    pool.put(closed.a);
    pool.put(restarted.a);
    close(closed.b);
    ASSERT_EQ(shutdown(restarted.b, SHUT_RD), 0);
    std::string frame = protocol::encode_empty(FrameType::kRestart);
    ASSERT_EQ(write(restarted.b, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
    for (int expected : {restarted.a, closed.a}) {  // the most recently used first
        int fd = pool.take();
        ASSERT_EQ(fd, expected);
        EXPECT_EQ(write_all(fd, std::string_view("request"), Millis(1000)), IoStatus::kClosed);
        close(fd);
    }
    EXPECT_EQ(pool.take(), -1);
    close(restarted.b);
}

TEST(ConnectionPool, ClosesWhatItCannotHold) {
    ConnectionPool pool(1);
    Pair first;
    Pair second;
    pool.put(first.a);
    pool.put(second.a);
    EXPECT_EQ(pool.size(), 1u);
    EXPECT_FALSE(is_open(second.a));
    close(first.b);
    close(second.b);
}

TEST(SocketIo, ResetAndEndOfFileAreToldApart) {
    Pair unread;
    ASSERT_EQ(write(unread.a, "request", 7), 7);
    close(unread.b);  // closed with our bytes unread: ECONNRESET
    std::string storage;
    protocol::FrameHeader header{};
    std::string_view payload;
    std::string error;
    FrameReader reset(unread.a, storage, false);
    EXPECT_EQ(reset.next(header, payload, Millis(1000), error), IoStatus::kClosed);
    EXPECT_EQ(errno, ECONNRESET);
    Pair read_first;
    close(read_first.b);
    FrameReader ended(read_first.a, storage, false);
    EXPECT_EQ(ended.next(header, payload, Millis(1000), error), IoStatus::kClosed);
    EXPECT_EQ(errno, 0);
    close(unread.a);
    close(read_first.a);
}

// Writes `data` whole to `fd`, with `fd_to_pass` attached when not -1.
void send_bytes(int fd, const std::string& data, int fd_to_pass = -1) {
    if (fd_to_pass >= 0) {
        ASSERT_EQ(write_with_fd(fd, data, fd_to_pass, Millis(1000)), IoStatus::kOk);
    } else {
        ASSERT_EQ(write_all(fd, data, Millis(1000)), IoStatus::kOk);
    }
}

TEST(FrameReader, ReadsFramesSentTogetherWithOneReceive) {
    Pair pair;
    std::string headers = protocol::encode_headers({200, "200 OK", 2, {}});
    std::string data = protocol::encode_data_header(FrameType::kData, 2, protocol::kLast) + "hi";
    send_bytes(pair.b, headers + data);
    std::string storage;
    FrameReader reader(pair.a, storage, false);
    protocol::FrameHeader header{};
    std::string_view payload;
    std::string error;
    ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
    EXPECT_EQ(header.type, FrameType::kHeaders);
    EXPECT_EQ(payload.size(), headers.size() - protocol::kHeaderSize);
    // The data frame came with the first receive: it is read with the peer closed.
    EXPECT_EQ(reader.pending(), data.size());
    close(pair.b);
    ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
    EXPECT_EQ(header.type, FrameType::kData);
    EXPECT_EQ(header.flags, protocol::kLast);
    EXPECT_EQ(payload, "hi");
    EXPECT_EQ(reader.pending(), 0u);
    EXPECT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kClosed);
    close(pair.a);
}

TEST(FrameReader, WaitsForAFrameSentInPiecesAndReadsABigOneIntoASharedBuffer) {
    Pair pair;
    ASSERT_TRUE(set_receive_timeout(pair.a, Millis(2000)));
    std::string body(300 * 1024, 'x');
    body.back() = 'y';
    std::string frame = protocol::encode_data_header(FrameType::kData, body.size(), 0) + body;
    std::thread writer([&] {
        send_bytes(pair.b, frame.substr(0, 5));  // part of the header first
        std::this_thread::sleep_for(Millis(50));
        send_bytes(pair.b, frame.substr(5));
    });
    std::string storage;
    protocol::FrameHeader header{};
    std::string_view payload;
    std::string error;
    std::size_t kept_before = FrameReader::kept_buffers();
    {
        FrameReader reader(pair.a, storage, true);
        ASSERT_EQ(reader.next(header, payload, Millis(2000), error), IoStatus::kOk) << error;
        EXPECT_EQ(payload.size(), body.size());
        EXPECT_EQ(payload.back(), 'y');
        EXPECT_EQ(payload, body);
        EXPECT_LE(storage.size(), FrameReader::kSmallBuffer);  // the thread's own stays small
    }
    writer.join();
    // The frame took a kept buffer if there was one; grown past kMaxKeptBuffer, it was freed,
    // not kept for the next big frame.
    EXPECT_EQ(FrameReader::kept_buffers(), kept_before == 0 ? 0 : kept_before - 1);
    FrameReader reader(pair.a, storage, true);
    EXPECT_EQ(reader.next(header, payload, Millis(2000), error), IoStatus::kTimeout);
    close(pair.a);
    close(pair.b);
}

// Big and small frames sent together, so that receives end in the middle of frames: each comes
// out whole, the shared buffer goes back once its frames are used, and the thread's own buffer
// never grows past kSmallBuffer.
TEST(FrameReader, GivesTheSharedBufferBackWhenItsFramesAreUsed) {
    Pair pair;
    std::vector<std::string> payloads;
    std::string stream;
    for (std::size_t size : std::initializer_list<std::size_t>{
             10, 64 * 1024, 64 * 1024, 5, 20 * 1024, 1, FrameReader::kSmallBuffer - 16}) {
        std::string payload(size, static_cast<char>('a' + payloads.size()));
        payload.back() = '!';
        stream += protocol::encode_data_header(FrameType::kData, payload.size(), 0) + payload;
        payloads.push_back(std::move(payload));
    }
    std::size_t kept_before = FrameReader::kept_buffers();
    std::thread writer([&] { send_bytes(pair.b, stream); });
    std::string storage;
    protocol::FrameHeader header{};
    std::string_view payload;
    std::string error;
    {
        FrameReader reader(pair.a, storage, false);
        for (const std::string& expected : payloads) {
            ASSERT_EQ(reader.next(header, payload, Millis(2000), error), IoStatus::kOk) << error;
            EXPECT_EQ(payload, expected);
            EXPECT_LE(storage.size(), FrameReader::kSmallBuffer);
        }
        writer.join();
        // Everything was used: the next call gives the shared buffer back before it waits.
        ASSERT_EQ(reader.next(header, payload, Millis(50), error), IoStatus::kTimeout);
        std::size_t kept = FrameReader::kept_buffers();
        EXPECT_EQ(kept, std::max<std::size_t>(kept_before, 1));
        // A second big frame takes a kept buffer rather than a new one.
        std::string big(100 * 1024, 'z');
        send_bytes(pair.b, protocol::encode_data_header(FrameType::kData, big.size(), 0) + big);
        ASSERT_EQ(reader.next(header, payload, Millis(2000), error), IoStatus::kOk) << error;
        EXPECT_EQ(payload, big);
        EXPECT_EQ(FrameReader::kept_buffers(), kept - 1);
    }
    EXPECT_LE(FrameReader::kept_buffers(), FrameReader::kMaxKeptBuffers);
    close(pair.a);
    close(pair.b);
}

// Whether the page at `address` is mapped in this process (msync fails with ENOMEM on a
// page that is not).
bool page_mapped(const char* address) {
    errno = 0;
    return msync(const_cast<char*>(address), 1, MS_ASYNC) == 0 || errno != ENOMEM;
}

// Shared buffers have memory of their own, not malloc's: one the process does not keep goes
// back to the kernel when given back (in an arena it would keep its pages), the kept ones stay.
TEST(SharedBuffer, OneNotKeptIsUnmappedAndTheKeptOnesStay) {
    std::vector<std::unique_ptr<SharedBuffer>> held;
    std::vector<const char*> addresses;
    // The first kMaxKeptBuffers take whatever the process keeps; one more is always new.
    for (std::size_t i = 0; i <= FrameReader::kMaxKeptBuffers; ++i) {
        held.push_back(std::make_unique<SharedBuffer>());
        held.back()->get().resize(64 * 1024, 'x');
        addresses.push_back(held.back()->get().data());
    }
    ASSERT_EQ(FrameReader::kept_buffers(), 0U);
    for (const char* address : addresses) {
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(address) % sysconf(_SC_PAGESIZE), 0U);
        EXPECT_TRUE(page_mapped(address));
    }
    for (auto& buffer : held) {
        buffer.reset();  // given back in order: the last one finds the process keeping enough
    }
    EXPECT_EQ(FrameReader::kept_buffers(), FrameReader::kMaxKeptBuffers);
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        EXPECT_EQ(page_mapped(addresses[i]), i < FrameReader::kMaxKeptBuffers) << "buffer " << i;
    }
}

// Big frames that have already arrived when the one before is used are received straight into
// the shared buffer, which the reader keeps; it gives the buffer back when nothing has arrived.
TEST(FrameReader, KeepsTheSharedBufferWhileBigFramesHaveArrived) {
    Pair pair;
    std::string first(64 * 1024, '1');
    std::string second(64 * 1024, '2');
    send_bytes(pair.b, protocol::encode_data_header(FrameType::kData, first.size(), 0) + first +
                           protocol::encode_data_header(FrameType::kData, second.size(), 0) +
                           second);
    std::string storage;
    protocol::FrameHeader header{};
    std::string_view payload;
    std::string error;
    FrameReader reader(pair.a, storage, false);
    std::size_t kept_before = FrameReader::kept_buffers();
    ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
    EXPECT_EQ(payload, first);
    std::size_t kept_while_reading = FrameReader::kept_buffers();
    EXPECT_EQ(kept_while_reading, kept_before == 0 ? 0 : kept_before - 1);
    ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
    EXPECT_EQ(payload, second);
    EXPECT_EQ(FrameReader::kept_buffers(), kept_while_reading);  // still held
    EXPECT_EQ(reader.next(header, payload, Millis(50), error), IoStatus::kTimeout);
    EXPECT_EQ(FrameReader::kept_buffers(), kept_while_reading + 1);  // given back to wait
    close(pair.b);
    EXPECT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kClosed);
    EXPECT_EQ(errno, 0);
    close(pair.a);
}

TEST(FrameReader, HandsOutAPassedDescriptorAndClosesOnesNeverTaken) {
    Pair pair;
    std::string file = protocol::encode_file({0, 1, true, true});
    int passed[2];
    ASSERT_EQ(pipe(passed), 0);
    send_bytes(pair.b, file, passed[0]);
    send_bytes(pair.b, file, passed[1]);
    std::string storage;
    int taken = -1;
    {
        FrameReader reader(pair.a, storage, false);
        protocol::FrameHeader header{};
        std::string_view payload;
        std::string error;
        ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
        EXPECT_EQ(header.type, FrameType::kFile);
        taken = reader.take_fd();
        ASSERT_GE(taken, 0);
        EXPECT_EQ(reader.take_fd(), -1);
        ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
        // The second descriptor is left to the reader, which closes it.
    }
    close(passed[0]);
    close(passed[1]);
    // The descriptor taken is the pipe's read end. Every copy of the write end is closed now,
    // the reader's included, so it reads end of file (EAGAIN if the reader had leaked it).
    ASSERT_EQ(fcntl(taken, F_SETFL, O_NONBLOCK), 0);
    char byte = 0;
    EXPECT_EQ(read(taken, &byte, 1), 0);
    close(taken);
    close(pair.a);
    close(pair.b);
}

class ListenerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char dir[] = "/tmp/wsgi-listener-XXXXXX";
        ASSERT_NE(mkdtemp(dir), nullptr);
        dir_ = dir;
        path_ = dir_ + "/socket";
        listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_.c_str());
        ASSERT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        ASSERT_EQ(listen(listen_fd_, 16), 0);
    }
    void TearDown() override {
        close(listen_fd_);
        unlink(path_.c_str());
        rmdir(dir_.c_str());
    }
    int connect_client() {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_.c_str());
        EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        return fd;
    }
    // Connects a client whose connection `listener` keeps (taken, then released with kKeep),
    // sends a byte on it and lets a thread take it again, as for a request: `taken` is what the
    // thread holds. Returns the client's end.
    int keep_then_take(DaemonListener& listener,
                       std::optional<DaemonListener::Connection>& taken) {
        int client = connect_client();
        auto first = listener.next(Millis(1000));
        EXPECT_TRUE(first.has_value());
        if (first) {
            listener.release(*first, DaemonListener::After::kKeep);
        }
        EXPECT_EQ(write(client, "a", 1), 1);
        taken = listener.next(Millis(1000));
        EXPECT_TRUE(taken && taken->kept);
        return client;
    }
    std::string dir_;
    std::string path_;
    int listen_fd_ = -1;
};

// Reads what a listener handing the connection back sends on `client`: one kRestart frame, then
// the end of the connection. Returns the frame's payload (the body bytes handed back).
std::string restart_then_end(int client) {
    protocol::FrameHeader header{};
    std::string_view payload;
    std::string storage;
    std::string error;
    FrameReader reader(client, storage, false);
    EXPECT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
    EXPECT_EQ(header.type, FrameType::kRestart);
    std::string handed_back(payload);
    EXPECT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kClosed);
    return handed_back;
}

TEST_F(ListenerTest, AKeptConnectionComesBackWithItsNextRequest) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 1, false, error)) << error;
    int client = connect_client();
    auto first = listener.next(Millis(1000));
    ASSERT_TRUE(first.has_value());
    EXPECT_FALSE(first->kept);
    listener.release(*first, DaemonListener::After::kKeep);
    EXPECT_FALSE(listener.next(Millis(50)).has_value());  // idle: no thread is woken
    ASSERT_EQ(write(client, "x", 1), 1);
    auto second = listener.next(Millis(1000));
    ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(second->kept);
    EXPECT_EQ(second->id, first->id);
    listener.release(*second, DaemonListener::After::kKeep);
    EXPECT_EQ(listener.kept_count(), 1u);
    close(client);
}

// Kept connections are edge-triggered: an event that comes while a thread serves the
// connection is not lost, but looked at again when the thread releases it.
TEST_F(ListenerTest, BytesArrivingWhileAConnectionIsServedAreHandedOutOnceItIsReleased) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 2, false, error)) << error;
    std::optional<DaemonListener::Connection> serving;
    int client = keep_then_take(listener, serving);
    ASSERT_TRUE(serving.has_value());
    // The next request comes before this one is released: no other thread takes it meanwhile.
    ASSERT_EQ(write(client, "b", 1), 1);
    EXPECT_FALSE(listener.next(Millis(50)).has_value());
    EXPECT_EQ(listener.busy_events(), 1u);
    char byte = 0;
    ASSERT_EQ(read(serving->fd, &byte, 1), 1);  // this request's byte only
    listener.release(*serving, DaemonListener::After::kKeep);
    auto next = listener.next(Millis(1000));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->id, serving->id);
    ASSERT_EQ(read(next->fd, &byte, 1), 1);
    EXPECT_EQ(byte, 'b');
    listener.release(*next, DaemonListener::After::kKeep);
    EXPECT_FALSE(listener.next(Millis(50)).has_value());  // nothing more arrived
    close(client);
}

// Bytes that arrive while a connection is served and that its thread reads itself (a request
// in pieces, a body) hand nothing out once it is released; what arrives after does.
TEST_F(ListenerTest, BytesTheServingThreadReadItselfAreNotHandedOutAgain) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 2, false, error)) << error;
    std::optional<DaemonListener::Connection> serving;
    int client = keep_then_take(listener, serving);
    ASSERT_TRUE(serving.has_value());
    ASSERT_EQ(write(client, "b", 1), 1);
    char bytes[2] = {};
    ASSERT_EQ(read(serving->fd, bytes, 2), 2);
    listener.release(*serving, DaemonListener::After::kKeep);
    EXPECT_FALSE(listener.next(Millis(50)).has_value());
    ASSERT_EQ(write(client, "c", 1), 1);
    auto next = listener.next(Millis(1000));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->id, serving->id);
    listener.release(*next, DaemonListener::After::kClose);
    close(client);
}

// A thread about to read a request body quiets the connection: the body's bytes wake no one,
// and once released the connection is watched again, bytes already waiting included.
TEST_F(ListenerTest, AQuietedConnectionIsWatchedAgainOnceReleased) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 2, false, error)) << error;
    int client = connect_client();
    auto first = listener.next(Millis(1000));
    ASSERT_TRUE(first.has_value());
    listener.quiet(*first);  // not in the epoll set yet: nothing to do
    listener.release(*first, DaemonListener::After::kKeep);
    ASSERT_EQ(write(client, "a", 1), 1);
    auto serving = listener.next(Millis(1000));
    ASSERT_TRUE(serving.has_value());
    listener.quiet(*serving);
    listener.quiet(*serving);  // once is enough
    ASSERT_EQ(write(client, "b", 1), 1);
    EXPECT_FALSE(listener.next(Millis(50)).has_value());
    EXPECT_EQ(listener.busy_events(), 0u);  // no thread was woken for it
    char byte = 0;
    ASSERT_EQ(read(serving->fd, &byte, 1), 1);
    listener.release(*serving, DaemonListener::After::kKeep);
    auto next = listener.next(Millis(1000));
    ASSERT_TRUE(next.has_value());
    ASSERT_EQ(read(next->fd, &byte, 1), 1);
    EXPECT_EQ(byte, 'b');
    listener.release(*next, DaemonListener::After::kKeep);
    close(client);  // the end of the connection is an event too
    auto closed = listener.next(Millis(1000));
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(read(closed->fd, &byte, 1), 0);
    listener.release(*closed, DaemonListener::After::kClose);
    EXPECT_EQ(listener.kept_count(), 0u);
}

// For a kept connection handed out by an event for bytes that another thread read meanwhile:
// a receive that does not wait tells that nothing has arrived.
TEST(FrameReader, ReceiveNowTellsWhetherAnythingHasArrived) {
    Pair pair;
    std::string storage;
    {
        FrameReader reader(pair.b, storage, true);
        EXPECT_EQ(reader.receive_now(), IoStatus::kTimeout);
    }
    protocol::RequestFrame request;
    request.meta = {{"script", "/srv/app.wsgi"}};
    send_bytes(pair.a, protocol::encode_request(request));
    {
        FrameReader reader(pair.b, storage, true);
        ASSERT_EQ(reader.receive_now(), IoStatus::kOk);
        protocol::FrameHeader header{};
        std::string_view payload;
        std::string error;
        ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
        EXPECT_EQ(header.type, FrameType::kRequest);
        EXPECT_EQ(reader.pending(), 0u);
    }
    close(pair.a);
    FrameReader reader(pair.b, storage, true);
    EXPECT_EQ(reader.receive_now(), IoStatus::kClosed);
    close(pair.b);
}

// The daemon quiets a connection only when its request thread is about to wait on it: not
// for a frame that has arrived whole, once for one still arriving.
TEST(FrameReader, CallsTheHookOnceBeforeItFirstWaits) {
    Pair pair;
    std::string storage;
    protocol::RequestFrame request;
    request.meta = {{"script", "/srv/app.wsgi"}};
    const std::string frame = protocol::encode_request(request);
    int calls = 0;
    {
        send_bytes(pair.a, frame);
        FrameReader reader(pair.b, storage, true);
        reader.before_waiting([&calls] { ++calls; });
        protocol::FrameHeader header{};
        std::string_view payload;
        std::string error;
        ASSERT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
        EXPECT_EQ(calls, 0);
    }
    {
        send_bytes(pair.a, frame.substr(0, 5));
        FrameReader reader(pair.b, storage, true);
        reader.before_waiting([&] {
            ++calls;
            send_bytes(pair.a, frame.substr(5, 10));  // arrives before the wait
        });
        std::thread rest([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            send_bytes(pair.a, frame.substr(15));
        });
        protocol::FrameHeader header{};
        std::string_view payload;
        std::string error;
        EXPECT_EQ(reader.next(header, payload, Millis(1000), error), IoStatus::kOk) << error;
        rest.join();
        EXPECT_EQ(header.type, FrameType::kRequest);
        EXPECT_EQ(calls, 1);
    }
    close(pair.a);
    close(pair.b);
}

TEST_F(ListenerTest, StoppingSendsRestartOnIdleConnectionsAndClosesThem) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 2, false, error)) << error;
    int client = connect_client();
    auto connection = listener.next(Millis(1000));
    ASSERT_TRUE(connection.has_value());
    listener.release(*connection, DaemonListener::After::kKeep);
    listener.stop();
    EXPECT_EQ(listener.kept_count(), 0u);
    EXPECT_EQ(restart_then_end(client), "");
    // No new connection is taken once stopping.
    int late = connect_client();
    EXPECT_FALSE(listener.next(Millis(50)).has_value());
    close(client);
    close(late);
}

// A request sent on an idle kept connection just as the daemon process stops: the Apache child
// frees the body bytes it sent with it, so they come back on the kRestart frame.
TEST_F(ListenerTest, StoppingHandsBackTheBodySentWithARequestOnAnIdleConnection) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 2, false, error)) << error;
    // Each served once and kept (connected one by one: a thread taking a listen event would
    // take the others with it, waiting for their first request).
    int clients[3];
    for (int& client : clients) {
        client = connect_client();
        auto connection = listener.next(Millis(1000));
        ASSERT_TRUE(connection.has_value());
        listener.release(*connection, DaemonListener::After::kKeep);
    }
    const auto [with_body, without_body, partial] = clients;
    protocol::RequestFrame request;
    request.meta = {{"script", "/srv/app.wsgi"}};
    const std::string body(60 * 1024, 'p');
    const std::string whole = protocol::encode_request(request, protocol::kWithBody) +
                              protocol::encode_data_header(FrameType::kBodyData, body.size(),
                                                           protocol::kLast) +
                              body;
    send_bytes(with_body, whole);
    send_bytes(without_body, protocol::encode_request(request));
    send_bytes(partial, whole.substr(0, whole.size() - 1));
    listener.stop();
    EXPECT_EQ(listener.kept_count(), 0u);
    for (int client : {with_body, without_body, partial}) {
        // Only a whole request's body comes back; a part of one, nothing (the child's write
        // of the rest fails, so it still has the request).
        EXPECT_EQ(restart_then_end(client), client == with_body ? body : "");
        close(client);
    }
}

// What handing a connection back relies on (DaemonListener's send_restart): once the daemon's
// end has shut down reading, a write from the Apache child fails (EPIPE) rather than being
// queued unread, and what was queued before can still be read. So a request either reaches
// the daemon whole, or fails to go out and stays with the child.
TEST(SocketIo, AfterTheReaderShutsDownReadingWritesFailAndQueuedBytesStayReadable) {
    Pair pair;
    ASSERT_EQ(send(pair.a, "queued", 6, MSG_NOSIGNAL), 6);
    ASSERT_EQ(shutdown(pair.b, SHUT_RD), 0);
    errno = 0;
    EXPECT_EQ(send(pair.a, "late", 4, MSG_NOSIGNAL), -1);
    EXPECT_EQ(errno, EPIPE);
    EXPECT_EQ(write_all(pair.a, std::string_view("late"), Millis(100)), IoStatus::kClosed);
    char buffer[16];
    ASSERT_EQ(recv(pair.b, buffer, sizeof(buffer), MSG_DONTWAIT), 6);
    EXPECT_EQ(std::string_view(buffer, 6), "queued");
    EXPECT_EQ(recv(pair.b, buffer, sizeof(buffer), MSG_DONTWAIT), 0);  // nothing more comes
    close(pair.a);
    close(pair.b);
}

TEST_F(ListenerTest, TheBacklogQueuesAheadOfRequestsSentAfterIt) {
    // One process in the group: a thread taking a listen event takes the whole backlog, so
    // that requests sent on new connections are served before those sent later on kept ones
    // (one accept per turn of the ready list made a burst of new connections wait for
    // hundreds of milliseconds under load).
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 4, false, error)) << error;
    int kept_clients[2];
    std::uint64_t kept_ids[2];
    for (int i = 0; i < 2; ++i) {
        kept_clients[i] = connect_client();
        auto connection = listener.next(Millis(1000));
        ASSERT_TRUE(connection.has_value());
        kept_ids[i] = connection->id;
        listener.release(*connection, DaemonListener::After::kKeep);
    }
    int fresh_clients[3];
    for (int& client : fresh_clients) {
        client = connect_client();
        ASSERT_EQ(write(client, "request", 7), 7);
    }
    auto first = listener.next(Millis(1000));
    ASSERT_TRUE(first.has_value());
    EXPECT_FALSE(first->kept);
    EXPECT_EQ(listener.kept_count(), 5u);  // the other two new ones were taken with it
    for (int client : kept_clients) {
        ASSERT_EQ(write(client, "request", 7), 7);
    }
    std::vector<DaemonListener::Connection> order;
    for (int i = 0; i < 4; ++i) {
        auto connection = listener.next(Millis(1000));
        ASSERT_TRUE(connection.has_value());
        order.push_back(*connection);
    }
    // The two adopted connections first, served as new ones (their peer not yet checked).
    EXPECT_FALSE(order[0].kept);
    EXPECT_FALSE(order[1].kept);
    EXPECT_NE(order[0].id, first->id);
    EXPECT_NE(order[1].id, first->id);
    EXPECT_TRUE(order[2].kept);
    EXPECT_EQ(order[2].id, kept_ids[0]);
    EXPECT_TRUE(order[3].kept);
    EXPECT_EQ(order[3].id, kept_ids[1]);
    // Kept after its first request, an adopted connection comes back as a kept one.
    listener.release(order[0], DaemonListener::After::kKeep);
    for (int client : fresh_clients) {
        ASSERT_EQ(write(client, "again", 5), 5);
    }
    auto again = listener.next(Millis(1000));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->id, order[0].id);
    EXPECT_TRUE(again->kept);
    listener.release(*again, DaemonListener::After::kClose);
    listener.release(*first, DaemonListener::After::kClose);
    for (std::size_t i = 1; i < order.size(); ++i) {
        listener.release(order[i], DaemonListener::After::kClose);
    }
    EXPECT_EQ(listener.kept_count(), 0u);
    for (int client : kept_clients) {
        close(client);
    }
    for (int client : fresh_clients) {
        close(client);
    }
}

TEST_F(ListenerTest, AProcessOfSeveralTakesOneConnectionPerListenEvent) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 2, true, error)) << error;
    int one = connect_client();
    int two = connect_client();
    auto first = listener.next(Millis(1000));
    ASSERT_TRUE(first.has_value());
    // The second connection stays in the backlog (another process may take it) until a thread
    // asks for work again: adopted, it could be bounced by the watcher once every thread is
    // busy, where in the backlog it waits for whichever process is idle first.
    EXPECT_EQ(listener.kept_count(), 1u);
    auto second = listener.next(Millis(1000));
    ASSERT_TRUE(second.has_value());
    EXPECT_NE(second->id, first->id);
    EXPECT_FALSE(second->kept);
    listener.release(*first, DaemonListener::After::kClose);
    listener.release(*second, DaemonListener::After::kClose);
    EXPECT_EQ(listener.kept_count(), 0u);
    close(one);
    close(two);
}

// Uses up the process's file descriptors: lowers the soft RLIMIT_NOFILE to the lowest free
// descriptor and fills any free one below it (duplicates of `fd`). release(), or the
// destructor, closes them and restores the limit.
class DescriptorsUsedUp {
public:
    explicit DescriptorsUsedUp(int fd) {
        if (getrlimit(RLIMIT_NOFILE, &saved_) != 0) {
            return;
        }
        int lowest_free = dup(fd);
        if (lowest_free < 0) {
            return;
        }
        fillers_.push_back(lowest_free);
        rlimit low = saved_;
        low.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
        if (setrlimit(RLIMIT_NOFILE, &low) != 0) {
            return;
        }
        lowered_ = true;
        for (int filler; (filler = dup(fd)) >= 0;) {
            fillers_.push_back(filler);
        }
        ok_ = errno == EMFILE;
    }
    ~DescriptorsUsedUp() { release(); }
    DescriptorsUsedUp(const DescriptorsUsedUp&) = delete;
    DescriptorsUsedUp& operator=(const DescriptorsUsedUp&) = delete;
    bool ok() const { return ok_; }
    void release() {
        for (int filler : fillers_) {
            close(filler);
        }
        fillers_.clear();
        if (std::exchange(lowered_, false)) {
            EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &saved_), 0);
        }
    }

private:
    rlimit saved_{};
    std::vector<int> fillers_;
    bool lowered_ = false;
    bool ok_ = false;
};

// Out of descriptors, a waiting connection cannot be accepted and the listen event stays ready:
// the thread reports it and waits kAcceptRetry between tries (a thread that retried at once
// would report it thousands of times here), then accepts the connection once a descriptor is
// free.
TEST_F(ListenerTest, OutOfDescriptorsAThreadWaitsBeforeItAcceptsAgain) {
    DaemonListener listener;
    std::atomic<int> failures{0};
    std::atomic<int> last_error{0};
    listener.on_accept_error([&](int error) {
        last_error = error;
        ++failures;
    });
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 1, false, error)) << error;
    std::optional<DaemonListener::Connection> taken;
    int failures_while_out = 0;
    int client = connect_client();
    {
        DescriptorsUsedUp used_up(listen_fd_);
        ASSERT_TRUE(used_up.ok());
        std::thread thread([&] { taken = listener.next(Millis(5000)); });
        std::this_thread::sleep_for(Millis(450));
        failures_while_out = failures.load();
        used_up.release();  // the connection can be accepted now: next() returns
        thread.join();
    }
    EXPECT_EQ(last_error.load(), EMFILE);
    EXPECT_GE(failures_while_out, 1);
    EXPECT_LE(failures_while_out, 450 / DaemonListener::kAcceptRetry.count() + 2);
    ASSERT_TRUE(taken.has_value());
    EXPECT_FALSE(taken->kept);
    listener.release(*taken, DaemonListener::After::kClose);
    close(client);
}

TEST_F(ListenerTest, ARequestOnAKeptConnectionIsBouncedWhenEveryThreadIsBusy) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 1, true, error)) << error;
    int kept_client = connect_client();
    auto kept = listener.next(Millis(1000));
    ASSERT_TRUE(kept.has_value());
    listener.release(*kept, DaemonListener::After::kKeep);
    int busy_client = connect_client();
    auto busy = listener.next(Millis(1000));  // the only thread is now busy with this one
    ASSERT_TRUE(busy.has_value());
    // A POST with its first body bytes: they come back with the request (the Apache child
    // freed them once sent).
    protocol::RequestFrame request;
    request.meta = {{"script", "/srv/app.wsgi"}};
    const std::string body(20 * 1024, 'q');
    send_bytes(kept_client, protocol::encode_request(request, protocol::kWithBody) +
                                protocol::encode_data_header(FrameType::kBodyData, body.size(),
                                                             protocol::kLast) +
                                body);
    EXPECT_EQ(restart_then_end(kept_client), body);
    listener.release(*busy, DaemonListener::After::kClose);
    close(busy_client);
    close(kept_client);
}

// With every thread busy the watcher hands requests on idle kept connections back, but bytes
// arriving on the connection a thread serves (its request's body) are that thread's.
TEST_F(ListenerTest, TheWatcherLeavesBytesOnABusyConnectionToItsThread) {
    DaemonListener listener;
    std::string error;
    ASSERT_TRUE(listener.open(listen_fd_, 1, true, error)) << error;
    std::optional<DaemonListener::Connection> serving;
    int client = keep_then_take(listener, serving);  // the only thread is now busy
    ASSERT_TRUE(serving.has_value());
    ASSERT_EQ(write(client, "b", 1), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the watcher looks
    EXPECT_EQ(listener.busy_events(), 1u);
    char bytes[2] = {};
    ASSERT_EQ(read(serving->fd, bytes, 2), 2);
    EXPECT_EQ(std::string(bytes, 2), "ab");
    listener.release(*serving, DaemonListener::After::kKeep);
    EXPECT_EQ(listener.kept_count(), 1u);
    ASSERT_EQ(write(client, "c", 1), 1);
    auto next = listener.next(Millis(1000));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->id, serving->id);
    listener.release(*next, DaemonListener::After::kClose);
    close(client);
}

}  // namespace
}  // namespace wsgi::daemon
