// the demo pipeline arrives with the LangGraph adapter
export {}
