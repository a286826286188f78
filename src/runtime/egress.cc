#include "runtime/egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "base/strings.h"

namespace nubo::runtime {

namespace {

Error egress_error(const std::string& what, int err) {
  return internal_error("cannot give the instance its outbound network: " + what + ": " +
                        lower_first(std::strerror(err)));
}

std::string dotted(uint32_t addr) {
  struct in_addr a;
  a.s_addr = htonl(addr);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

// One rtnetlink request, built in place.
class NlRequest {
 public:
  NlRequest(uint16_t type, uint16_t flags) {
    std::memset(buf_, 0, sizeof buf_);
    hdr()->nlmsg_len = NLMSG_LENGTH(0);
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  }
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_); }

  // Appends len bytes (aligned); returns where they are.
  void* put(const void* data, size_t len) {
    size_t at = NLMSG_ALIGN(hdr()->nlmsg_len);
    NUBO_CHECK(at + len <= sizeof buf_);
    std::memcpy(buf_ + at, data, len);
    hdr()->nlmsg_len = static_cast<uint32_t>(at + len);
    return buf_ + at;
  }
  rtattr* attr(uint16_t type, const void* data, size_t len) {
    size_t at = NLMSG_ALIGN(hdr()->nlmsg_len);
    NUBO_CHECK(at + RTA_LENGTH(len) <= sizeof buf_);
    auto* a = reinterpret_cast<rtattr*>(buf_ + at);
    a->rta_type = type;
    a->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    if (len) std::memcpy(RTA_DATA(a), data, len);
    hdr()->nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(a->rta_len));
    return a;
  }
  rtattr* attr_str(uint16_t type, const std::string& s) {
    return attr(type, s.c_str(), s.size() + 1);
  }
  rtattr* attr_u32(uint16_t type, uint32_t v) { return attr(type, &v, sizeof v); }
  rtattr* nest(uint16_t type) { return attr(type, nullptr, 0); }
  void end(rtattr* nested) {
    nested->rta_len =
        static_cast<uint16_t>(buf_ + hdr()->nlmsg_len - reinterpret_cast<char*>(nested));
  }

  // Sends the request on fd and waits for its answer. With want != null, the first non-error
  // reply of type want_type is copied there (a GET); otherwise the kernel's ACK is awaited.
  // Returns 0 or the errno the kernel answered.
  int run(int fd, uint32_t seq, uint16_t want_type = 0, std::string* want = nullptr) {
    hdr()->nlmsg_seq = seq;
    struct sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = sendto(fd, buf_, hdr()->nlmsg_len, 0,
                          reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel);
    if (sent < 0) return errno;
    alignas(nlmsghdr) char reply[8192];
    for (;;) {
      ssize_t n = recv(fd, reply, sizeof reply, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      int len = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != seq) continue;  // a late answer to an earlier request
        if (h->nlmsg_type == NLMSG_ERROR) {
          auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
          return -e->error;
        }
        if (want && h->nlmsg_type == want_type) {
          want->assign(reinterpret_cast<const char*>(h), h->nlmsg_len);
          return 0;
        }
      }
    }
  }

 private:
  alignas(nlmsghdr) char buf_[1024];
};

int open_netlink() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  struct timeval tv = {5, 0};  // never wait forever for the kernel
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

int set_up(int fd, uint32_t seq, int index) {
  NlRequest r(RTM_NEWLINK, NLM_F_ACK);
  struct ifinfomsg ifi = {};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  r.put(&ifi, sizeof ifi);
  return r.run(fd, seq);
}

int add_address(int fd, uint32_t seq, int index, uint32_t addr, int prefix) {
  NlRequest r(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  struct ifaddrmsg ifa = {};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa.ifa_index = static_cast<unsigned>(index);
  r.put(&ifa, sizeof ifa);
  uint32_t be = htonl(addr);
  r.attr(IFA_LOCAL, &be, sizeof be);
  r.attr(IFA_ADDRESS, &be, sizeof be);
  return r.run(fd, seq);
}

// Runs nftables commands (libnftables, in this process). Returns "" or the error.
std::string nft(const std::string& commands) {
  struct nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return "nft_ctx_new failed";
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, commands.c_str());
  std::string err = rc == 0 ? "" : std::string(trim(nft_ctx_get_error_buffer(ctx)));
  if (rc != 0 && err.empty()) err = "nftables refused the rules";
  nft_ctx_free(ctx);
  return err;
}

std::string table_name(int block) {
  return "nubo_b" + std::to_string(block);
}

std::string ruleset(int block, const std::string& subnet) {
  std::string ifs = "\"nb" + std::to_string(block) + "-*\"";
  std::string t = "inet " + table_name(block);
  // A table a dead node of this block left behind goes first ("add" then "delete": no error
  // when there is none).
  return "add table " + t + "\ndelete table " + t + "\nadd table " + t +
         "\n"
         "add chain " +
         t +
         " nat_post { type nat hook postrouting priority srcnat; policy accept; }\n"
         "add rule " +
         t + " nat_post ip saddr " + subnet +
         " oifname != \"nb*\" masquerade\n"
         "add chain " +
         t +
         " guard_forward { type filter hook forward priority filter; policy accept; }\n"
         "add rule " +
         t + " guard_forward iifname " + ifs +
         " ip daddr 169.254.0.0/16 reject\n"
         "add rule " +
         t + " guard_forward iifname " + ifs +
         " oifname \"nb*\" reject\n"
         "add rule " +
         t + " guard_forward oifname " + ifs +
         " ct state new reject\n"
         "add chain " +
         t +
         " guard_input { type filter hook input priority filter; policy accept; }\n"
         "add rule " +
         t + " guard_input iifname " + ifs + " reject\n";
}

}  // namespace

Result<std::shared_ptr<Egress>> Egress::start(const std::string& lock_dir) {
  if (geteuid() != 0) return internal_error("the node is not root");
  mkdir(lock_dir.c_str(), 0700);  // a flock needs only a read descriptor: root's alone
  int lock_fd = -1;
  int block = -1;
  for (int b = 0; b < kBlocks && block < 0; ++b) {
    std::string path = lock_dir + "/egress-" + std::to_string(b) + ".lock";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      lock_fd = fd;
      block = b;
    } else {
      close(fd);
    }
  }
  if (block < 0) {
    return internal_error("none of the " + std::to_string(kBlocks) +
                          " address blocks of 10.213.0.0/16 is free (each is held by another "
                          "node, or its lock file under " +
                          lock_dir + " cannot be opened)");
  }
  int nl = open_netlink();
  if (nl < 0) {
    int err = errno;
    close(lock_fd);
    return internal_error(std::string("netlink: ") + lower_first(std::strerror(err)));
  }
  std::shared_ptr<Egress> e(new Egress(block, lock_fd, nl));
  if (std::string err = nft(ruleset(block, e->subnet())); !err.empty()) {
    return internal_error("nftables: " + err);
  }
  std::ifstream in("/proc/sys/net/ipv4/ip_forward");
  char on = '0';
  in >> on;
  if (on != '1') {
    std::ofstream out("/proc/sys/net/ipv4/ip_forward");
    out << "1\n";
    if (!out.flush()) return internal_error("cannot turn on net.ipv4.ip_forward");
  }
  return e;
}

Egress::Egress(int block, int lock_fd, int netlink_fd)
    : block_(block),
      lock_fd_(lock_fd),
      netlink_fd_(netlink_fd),
      used_(kBlockAddresses / 2, false) {}

Egress::~Egress() {
  (void)nft("delete table inet " + table_name(block_) + "\n");
  close(netlink_fd_);
  close(lock_fd_);  // frees the block
}

std::string Egress::subnet() const {
  return dotted(kBase + static_cast<uint32_t>(block_) * kBlockAddresses) + "/20";
}

std::string Egress::describe() const {
  return "outbound network through NAT from " + subnet() + " (nftables table inet " +
         table_name(block_) +
         "; not to the node itself, other instances or 169.254.0.0/16; net.ipv4.ip_forward on)";
}

Egress::Lease::~Lease() {
  owner_->release(slot_);
}

std::string Egress::Lease::instance_address() const {
  return dotted(kBase + static_cast<uint32_t>(owner_->block_) * kBlockAddresses + 2 * slot_ + 1);
}

void Egress::release(uint32_t slot) {
  std::lock_guard lock(mu_);
  used_[slot] = false;
}

Result<std::unique_ptr<Egress::Lease>> Egress::connect(int host_netns) {
  int inner = open_netlink();  // in the instance's namespace, where this thread is
  if (inner < 0) return egress_error("netlink", errno);
  // A freed slot whose veth has not vanished yet (the kernel removes it when the old namespace
  // is torn down, asynchronously) answers EEXIST: the next free slot is tried.
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint32_t slot = 0;
    uint32_t seq = 0;
    {
      std::lock_guard lock(mu_);
      uint32_t n = static_cast<uint32_t>(used_.size());
      uint32_t i = 0;
      while (i < n && used_[(next_ + i) % n]) ++i;
      if (i == n) {
        close(inner);
        return internal_error("cannot give the instance its outbound network: all " +
                              std::to_string(n) + " addresses of " + subnet() + " are in use");
      }
      slot = (next_ + i) % n;
      used_[slot] = true;
      next_ = (slot + 1) % n;
    }
    auto lease = std::make_unique<Lease>(shared_from_this(), slot);
    uint32_t host_ip = kBase + static_cast<uint32_t>(block_) * kBlockAddresses + 2 * slot;
    uint32_t inst_ip = host_ip + 1;
    std::string host_name = "nb" + std::to_string(block_) + "-" + std::to_string(slot);

    // The pair, made here with its peer put straight into the node's namespace.
    NlRequest mk(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg ifi = {};
    ifi.ifi_family = AF_UNSPEC;
    mk.put(&ifi, sizeof ifi);
    mk.attr_str(IFLA_IFNAME, "eth0");
    rtattr* info = mk.nest(IFLA_LINKINFO);
    mk.attr_str(IFLA_INFO_KIND, "veth");
    rtattr* data = mk.nest(IFLA_INFO_DATA);
    rtattr* peer = mk.nest(VETH_INFO_PEER);
    mk.put(&ifi, sizeof ifi);
    mk.attr_str(IFLA_IFNAME, host_name);
    mk.attr_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(host_netns));
    mk.end(peer);
    mk.end(data);
    mk.end(info);
    int err = mk.run(inner, 1);
    if (err == EEXIST) continue;  // lease released: another slot
    if (err != 0) {
      close(inner);
      return egress_error("creating the veth pair", err);
    }
    int eth0 = static_cast<int>(if_nametoindex("eth0"));
    if (eth0 == 0) err = errno;
    if (!err) err = add_address(inner, 2, eth0, inst_ip, 31);
    if (!err) err = set_up(inner, 3, eth0);
    if (!err) {
      NlRequest rt(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
      struct rtmsg rtm = {};
      rtm.rtm_family = AF_INET;
      rtm.rtm_table = RT_TABLE_MAIN;
      rtm.rtm_protocol = RTPROT_BOOT;
      rtm.rtm_scope = RT_SCOPE_UNIVERSE;
      rtm.rtm_type = RTN_UNICAST;
      rt.put(&rtm, sizeof rtm);
      uint32_t gw = htonl(host_ip);
      rt.attr(RTA_GATEWAY, &gw, sizeof gw);
      rt.attr_u32(RTA_OIF, static_cast<uint32_t>(eth0));
      err = rt.run(inner, 4);
    }
    close(inner);
    if (err) return egress_error("configuring eth0", err);

    // The node's end: its index, its address, up (on the node's socket: one user at a time).
    {
      std::lock_guard lock(mu_);
      seq = seq_ += 3;
      NlRequest get(RTM_GETLINK, 0);
      get.put(&ifi, sizeof ifi);
      get.attr_str(IFLA_IFNAME, host_name);
      std::string reply;
      err = get.run(netlink_fd_, seq, RTM_NEWLINK, &reply);
      int host_index = 0;
      if (!err) {
        auto* h = reinterpret_cast<const nlmsghdr*>(reply.data());
        host_index = static_cast<const ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
        err = add_address(netlink_fd_, seq + 1, host_index, host_ip, 31);
      }
      if (!err) err = set_up(netlink_fd_, seq + 2, host_index);
    }
    if (err) return egress_error("configuring " + host_name, err);
    return lease;
  }
  close(inner);
  return egress_error("creating the veth pair", EEXIST);
}

}  // namespace nubo::runtime
