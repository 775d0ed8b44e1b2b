// A FIX 4.4 acceptor built on QuickFIX/C++ for Genesis's interoperability
// tests. QuickFIX's example executor fills every limit order but answers
// neither OrderStatusRequest (H) nor OrderMassStatusRequest (AF): its
// MessageCracker refuses them with a BusinessMessageReject (reason 3). This
// acceptor keeps the executor's behaviour for orders (ClOrdIDs starting with
// 'R' rest instead of filling, so there are open orders to ask about) and
// answers H and AF with ExecutionReports of ExecType=I, as FIX 4.4 says:
// - ExecID 0; MassStatusReqID echoed with TotNumReports and LastRptRequested;
// - H for an unknown order: OrdStatus 8 (Rejected), OrdRejReason 5, OrderID NONE;
// - AF with no order: one report with TotNumReports 0 and LastRptRequested Y.
// Usage: quickfix_status_acceptor SETTINGS_FILE (runs until killed).

#include "quickfix/Application.h"
#include "quickfix/FileStore.h"
#include "quickfix/Log.h"
#include "quickfix/MessageCracker.h"
#include "quickfix/Session.h"
#include "quickfix/SessionSettings.h"
#include "quickfix/SocketAcceptor.h"
#include "quickfix/Utility.h"
#include "quickfix/fix44/ExecutionReport.h"
#include "quickfix/fix44/NewOrderSingle.h"
#include "quickfix/fix44/OrderMassStatusRequest.h"
#include "quickfix/fix44/OrderStatusRequest.h"

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

struct Order {
  std::string clOrdID, orderID, symbol;
  char side, status;
  double qty, price, cum;
};

class Application : public FIX::Application, public FIX::MessageCracker {
public:
  void onCreate(const FIX::SessionID&) {}
  void onLogon(const FIX::SessionID&) {}
  void onLogout(const FIX::SessionID&) {}
  void toAdmin(FIX::Message&, const FIX::SessionID&) {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) {}
  void fromAdmin(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) {}
  void fromApp(const FIX::Message& message, const FIX::SessionID& sessionID)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
            FIX::UnsupportedMessageType) {
    crack(message, sessionID);
  }

  void onMessage(const FIX44::NewOrderSingle& message, const FIX::SessionID& sessionID) {
    FIX::OrdType ordType;
    message.get(ordType);
    if (ordType != FIX::OrdType_LIMIT) throw FIX::IncorrectTagValue(ordType.getField());
    FIX::Symbol symbol;
    FIX::Side side;
    FIX::OrderQty qty;
    FIX::Price price;
    FIX::ClOrdID clOrdID;
    message.get(symbol);
    message.get(side);
    message.get(qty);
    message.get(price);
    message.get(clOrdID);
    Order order;
    order.clOrdID = clOrdID;
    order.orderID = next(m_orderID);
    order.symbol = symbol;
    order.side = side;
    order.qty = qty;
    order.price = price;
    bool rests = !order.clOrdID.empty() && order.clOrdID[0] == 'R';
    order.status = rests ? FIX::OrdStatus_NEW : FIX::OrdStatus_FILLED;
    order.cum = rests ? 0 : order.qty;
    m_orders.push_back(order);
    FIX44::ExecutionReport report = base(order, next(m_execID),
        rests ? FIX::ExecType_NEW : FIX::ExecType_TRADE);
    if (!rests) {
      report.set(FIX::LastQty(order.qty));
      report.set(FIX::LastPx(order.price));
    }
    send(report, sessionID);
  }

  void onMessage(const FIX44::OrderStatusRequest& message, const FIX::SessionID& sessionID) {
    FIX::ClOrdID clOrdID;
    FIX::Side side;
    FIX::Symbol symbol;
    message.get(clOrdID);
    message.get(side);
    message.getIfSet(symbol);
    FIX44::ExecutionReport report;
    const Order* found = find(clOrdID);
    if (found) {
      report = base(*found, "0", FIX::ExecType_ORDER_STATUS);
    } else {
      report = FIX44::ExecutionReport(FIX::OrderID("NONE"), FIX::ExecID("0"),
          FIX::ExecType(FIX::ExecType_ORDER_STATUS), FIX::OrdStatus(FIX::OrdStatus_REJECTED),
          side, FIX::LeavesQty(0), FIX::CumQty(0), FIX::AvgPx(0));
      report.set(clOrdID);
      report.set(symbol);
      report.set(FIX::OrdRejReason(FIX::OrdRejReason_UNKNOWN_ORDER));
      report.set(FIX::Text("unknown order"));
    }
    FIX::OrdStatusReqID reqID;
    if (message.getIfSet(reqID)) report.set(reqID);
    send(report, sessionID);
  }

  void onMessage(const FIX44::OrderMassStatusRequest& message, const FIX::SessionID& sessionID) {
    FIX::MassStatusReqID reqID;
    message.get(reqID);
    if (m_orders.empty()) {
      FIX44::ExecutionReport report(FIX::OrderID("NONE"), FIX::ExecID("0"),
          FIX::ExecType(FIX::ExecType_ORDER_STATUS), FIX::OrdStatus(FIX::OrdStatus_REJECTED),
          FIX::Side(FIX::Side_BUY), FIX::LeavesQty(0), FIX::CumQty(0), FIX::AvgPx(0));
      report.set(reqID);
      report.set(FIX::TotNumReports(0));
      report.set(FIX::LastRptRequested(true));
      report.set(FIX::Text("no orders match the request"));
      send(report, sessionID);
      return;
    }
    for (size_t index = 0; index < m_orders.size(); ++index) {
      FIX44::ExecutionReport report = base(m_orders[index], "0", FIX::ExecType_ORDER_STATUS);
      report.set(reqID);
      report.set(FIX::TotNumReports(static_cast<int>(m_orders.size())));
      report.set(FIX::LastRptRequested(index + 1 == m_orders.size()));
      send(report, sessionID);
    }
  }

private:
  static std::string next(int& counter) {
    std::stringstream stream;
    stream << ++counter;
    return stream.str();
  }

  const Order* find(const std::string& clOrdID) const {
    for (size_t index = 0; index < m_orders.size(); ++index)
      if (m_orders[index].clOrdID == clOrdID) return &m_orders[index];
    return 0;
  }

  static FIX44::ExecutionReport base(const Order& order, const std::string& execID, char execType) {
    FIX44::ExecutionReport report(FIX::OrderID(order.orderID), FIX::ExecID(execID),
        FIX::ExecType(execType), FIX::OrdStatus(order.status), FIX::Side(order.side),
        FIX::LeavesQty(order.status == FIX::OrdStatus_FILLED ? 0 : order.qty - order.cum),
        FIX::CumQty(order.cum), FIX::AvgPx(order.cum > 0 ? order.price : 0));
    report.set(FIX::ClOrdID(order.clOrdID));
    report.set(FIX::Symbol(order.symbol));
    report.set(FIX::OrderQty(order.qty));
    report.set(FIX::Price(order.price));
    return report;
  }

  static void send(FIX::Message& message, const FIX::SessionID& sessionID) {
    try {
      FIX::Session::sendToTarget(message, sessionID);
    } catch (FIX::SessionNotFound&) {
    }
  }

  std::vector<Order> m_orders;
  int m_orderID = 0, m_execID = 0;
};

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cout << "usage: " << argv[0] << " SETTINGS_FILE" << std::endl;
    return 2;
  }
  try {
    FIX::SessionSettings settings(argv[1]);
    Application application;
    FIX::FileStoreFactory storeFactory(settings);
    FIX::ScreenLogFactory logFactory(settings);
    FIX::SocketAcceptor acceptor(application, storeFactory, settings, logFactory);
    acceptor.start();
    while (true) FIX::process_sleep(1);
  } catch (std::exception& error) {
    std::cout << error.what() << std::endl;
    return 1;
  }
}
