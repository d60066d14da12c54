var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddCremaDRunsApi();
var app = builder.Build();
app.MapDefaultEndpoints();
app.MapCremaDRunsApi();
app.Run();
